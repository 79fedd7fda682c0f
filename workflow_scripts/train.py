"""Rule train: one training run and its four-way test, data parallel when the job has 2+ GPUs."""

from fixate.launch import launch
from fixate.workflow import script_logging

log = script_logging(snakemake.log[0])
w = snakemake.wildcards
launch(
    {
        "shards": list(snakemake.input.shards),
        "model_dir": snakemake.input.model,
        "backbone_kind": w.backbone,
        "config": snakemake.params.train,
        "seed": int(w.seed),
        "out_dir": snakemake.output.metrics.rsplit("/", 1)[0],
        "dataset": w.dataset,
        "trust_remote_code": snakemake.params.trust_remote_code,
        "cache_gib": {
            "device": snakemake.config["feature_cache"]["device_gib"],
            "host": snakemake.config["feature_cache"]["host_gib"],
        },
    },
    processes=int(snakemake.resources.gpu),
    threads=snakemake.threads,
)
