"""Rule train: one training run and its four-way test."""

import torch

from fixate.train import TrainConfig, run
from fixate.workflow import script_logging

log = script_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
w = snakemake.wildcards
run(
    shards=list(snakemake.input.shards),
    model_dir=snakemake.input.model,
    backbone_kind=w.backbone,
    config=TrainConfig.from_dict(snakemake.params.train),
    seed=int(w.seed),
    out_dir=snakemake.output.metrics.rsplit("/", 1)[0],
    dataset=w.dataset,
    trust_remote_code=snakemake.params.trust_remote_code,
)
