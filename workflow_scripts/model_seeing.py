"""Rule model_seeing: train a tiny model to see the synthetic screens."""

import torch

from fixate.models.pretrain import run_seeing
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
run_seeing(
    snakemake.input.base,
    snakemake.params.kind,
    snakemake.input.screens,
    snakemake.input.item_features,
    snakemake.params.dataset_dir,
    snakemake.output.model,
    snakemake.output.report,
    snakemake.params.see,
)
