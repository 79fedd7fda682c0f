"""Rule adserp_synthetic: write synthetic AdSERP trials in the data/ folder format."""

from pathlib import Path

from fixate.data.synthetic.adserp import generate_adserp
from fixate.workflow import script_logging

log = script_logging(snakemake.log[0])
cfg = snakemake.params.synthetic
summary = generate_adserp(
    Path(snakemake.output.participants).parent,
    n_users=cfg["n_users"],
    seed=cfg["seed"],
    trials_per_user=cfg["trials_per_user"],
    n_batches=cfg["n_batches"],
    organic=cfg["organic_boxes"],
    workers=snakemake.threads,
)
log.info("synthetic AdSERP: %s", summary)
