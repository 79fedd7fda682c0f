"""Start one training run on one process, or data parallel on several through `accelerate launch`.

The Snakemake rule asks for the run's devices as its `gpu` resource; with more than one it writes
the run's arguments to a JSON file and starts `accelerate launch --multi_gpu` on this module, which
gives every process its own GPU (NCCL) or, on a machine without GPUs, its own share of the CPU
threads (gloo). One process never leaves the rule's Python process.

    python -m accelerate.commands.launch --multi_gpu --num_processes 2 -m fixate.launch RUN.json
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from fixate.data.tables import write_json
from fixate.train import TrainConfig, run

log = logging.getLogger(__name__)


def _free_port() -> int:
    """A free TCP port, so that two multi-process runs on one machine do not share a rendezvous."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accelerate_command(processes: int, target: list[str]) -> list[str]:
    """`accelerate launch` of ``target`` (a script and its arguments, or `-m module ...`) on
    ``processes`` processes of this machine, each on its own GPU (or CPU share)."""
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_machines=1",
        f"--num_processes={processes}",
        f"--main_process_port={_free_port()}",
        "--mixed_precision=no",
        "--dynamo_backend=no",
        *target,
    ]


def _run_spec(spec: dict) -> dict:
    return {**spec, "config": TrainConfig.from_dict(spec["config"])}


def launch(spec: dict, processes: int = 1, threads: int = 1) -> None:
    """Train and test one run (``spec``: the keyword arguments of `fixate.train.run`, with the
    config as a plain dict) on ``processes`` devices, ``threads`` CPU threads in all."""
    if processes < 1:
        raise ValueError(f"a run needs at least one process, not {processes}")
    gpus = torch.cuda.device_count()
    if gpus and processes > gpus:
        raise RuntimeError(
            f"the training job asks for {processes} GPUs but only {gpus} are visible "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})"
        )
    if processes == 1:
        torch.set_num_threads(threads)
        run(**_run_spec(spec))
        return
    spec_file = Path(spec["out_dir"]) / "launch.json"
    write_json(spec, spec_file)
    command = accelerate_command(processes, ["-m", "fixate.launch", str(spec_file)])
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, threads // processes))}
    log.info("data parallel over %d processes: %s", processes, " ".join(command))
    # both streams of every process go to file descriptor 2: a rule script's log file
    subprocess.run(command, env=env, check=True, stdout=2, stderr=2)
    spec_file.unlink()


def main(argv: list[str] | None = None) -> None:
    """One process of a data-parallel run: read the run's JSON and train (rank 0 writes)."""
    (spec_file,) = sys.argv[1:] if argv is None else argv
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"%(asctime)s %(levelname)s [rank {rank}] %(name)s: %(message)s",
        force=True,
    )
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    run(**_run_spec(json.loads(Path(spec_file).read_text())))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
