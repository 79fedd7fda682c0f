"""Rule recgaze_synthetic: write synthetic RecGaze raw logs."""

from pathlib import Path

from fixate.data.synthetic.recgaze import generate_recgaze
from fixate.data.synthetic.recgaze.imperfections import LogImperfections
from fixate.workflow import script_logging

log = script_logging(snakemake.log[0])
cfg = snakemake.params.synthetic
summary = generate_recgaze(
    Path(snakemake.output.summary).parent,
    n_users=cfg["n_users"],
    seed=cfg["seed"],
    posters=cfg["posters"],
    imperfections=LogImperfections(**cfg["imperfections"]),
    workers=snakemake.threads,
)
Path(snakemake.output.posters).mkdir(parents=True, exist_ok=True)
log.info("synthetic RecGaze: %s", summary)
