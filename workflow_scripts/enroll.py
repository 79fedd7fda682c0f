"""Rule enroll: fit held-out users on their first k sessions, save, score their test screens."""

import torch

from fixate.data.samples import read_samples
from fixate.data.tables import write_parquet
from fixate.enroll import EnrollConfig, enroll, save_enrolled, score_enrolled
from fixate.simulate.simulator import TrainedRun
from fixate.workflow import script_logging

log = script_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
settings = snakemake.params.enroll
config = EnrollConfig(
    steps=settings["steps"],
    lr=settings["lr"],
    batch_size=settings["batch_size"],
    seed=int(snakemake.wildcards.seed),
)
k = int(snakemake.wildcards.k)
run = TrainedRun.load(snakemake.input.run[0].rsplit("/", 1)[0])
backbone = run.backbone(snakemake.input.model)
samples = read_samples(list(snakemake.input.shards))
prompt = enroll(run, backbone, samples, k, config)
save_enrolled(prompt, samples, k, config, snakemake.output.prompt)
scores = score_enrolled(run, backbone, prompt, samples, prompt.user_ids)
write_parquet(
    scores.assign(sessions=k, seed=int(snakemake.wildcards.seed)), snakemake.output.scores
)
