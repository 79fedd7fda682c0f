"""Rule simulate: the configured users on the configured screens, with overlays and a gallery."""

import torch

from fixate.simulate.outputs import simulate_to_folder
from fixate.workflow import script_logging

log = script_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
sim = snakemake.params.simulation
gallery = simulate_to_folder(
    sim["run_dir"],
    sim["screens_path"],
    sim["users"],
    snakemake.output[0],
    operator=sim.get("operator"),
    model_dir=snakemake.input.model,
    batch_size=sim.get("batch_size", 8),
)
log.info("gallery: %s", gallery)
