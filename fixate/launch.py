"""Start one training run on one process, or data parallel on several through `accelerate launch`.

The Snakemake rule asks for the run's devices as its `gpu` resource; with more than one it writes
the run's arguments to a JSON file and starts `accelerate launch --multi_gpu` on this module, which
gives every process its own GPU (NCCL) or, on a machine without GPUs, its own share of the CPU
threads (gloo). One process never leaves the rule's Python process.

Which GPUs: a cluster's scheduler says so through CUDA_VISIBLE_DEVICES. On a workstation nothing
does (Snakemake's `gpu` resource counts GPUs in use, it does not hand out particular ones), so the
run claims free ones itself (`claimed_gpus`) and concurrent jobs spread over the machine's GPUs.

    python -m accelerate.commands.launch --multi_gpu --num_processes 2 -m fixate.launch RUN.json
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from fixate.data.tables import write_json
from fixate.parentwatch import exit_with_parent
from fixate.runlock import run_lock
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


GPU_LOCKS = Path(tempfile.gettempdir()) / f"fixate-gpus-{os.getuid()}"
"""One lock file per GPU index, shared by this user's runs on this machine."""


@contextmanager
def claimed_gpus(
    count: int, available: int, locks: Path | None = None, poll_s: float = 10.0
) -> Iterator[list[int]]:
    """Hold ``count`` of this machine's ``available`` GPUs (their indices) for the block, waiting
    while fewer are free.

    Each GPU is an exclusive `flock` on its own file: the kernel drops it when the holding process
    ends, however it ends, so a killed job never keeps its GPUs.
    """
    locks = locks or GPU_LOCKS
    locks.mkdir(parents=True, exist_ok=True)
    said = False
    while True:
        held = []
        for index in range(available):
            handle = open(locks / f"gpu{index}.lock", "a")  # noqa: SIM115 (held past this loop)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            held.append((index, handle))
            if len(held) == count:
                break
        if len(held) == count:
            break
        for _, handle in held:
            handle.close()
        if not said:
            log.info("waiting for %d of the %d GPUs (other runs hold them)", count, available)
            said = True
        time.sleep(poll_s)
    try:
        yield [index for index, _ in held]
    finally:
        for _, handle in held:
            handle.close()


def _run_spec(spec: dict) -> dict:
    return {**spec, "config": TrainConfig.from_dict(spec["config"])}


def launch(spec: dict, processes: int = 1, threads: int = 1) -> None:
    """Train and test one run (``spec``: the keyword arguments of `fixate.train.run`, with the
    config as a plain dict) on ``processes`` devices, ``threads`` CPU threads in all; on GPUs that
    nothing assigned to this job, it claims free ones first.

    The job holds its run folder's lock throughout (`fixate.runlock`: a second trainer of the
    folder stops) and exits if the Snakemake process that started it dies
    (`fixate.parentwatch`)."""
    if processes < 1:
        raise ValueError(f"a run needs at least one process, not {processes}")
    with run_lock(spec["out_dir"]), exit_with_parent():
        _on_devices(spec, processes, threads)


def _on_devices(spec: dict, processes: int, threads: int) -> None:
    """Start the run on the GPUs the job was given, on free GPUs it claims, or on the CPU."""
    gpus = torch.cuda.device_count()  # through NVML, without initialising CUDA
    if gpus and processes > gpus:
        raise RuntimeError(
            f"the training job asks for {processes} GPUs but only {gpus} are visible "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})"
        )
    if not gpus or "CUDA_VISIBLE_DEVICES" in os.environ or torch.cuda.is_initialized():
        _start(spec, processes, threads)  # the CPU, GPUs a scheduler chose, or CUDA already in use
        return
    with claimed_gpus(processes, gpus) as devices:
        log.info("on GPU %s of this machine's %d", ",".join(map(str, devices)), gpus)
        _start(spec, processes, threads, devices)


def _start(spec: dict, processes: int, threads: int, devices: list[int] | None = None) -> None:
    """Run in this process (on the current CUDA device) or in `processes` new ones (on the GPUs
    they see); ``devices`` are the claimed GPUs, if any."""
    if processes == 1:
        if devices:
            torch.cuda.set_device(devices[0])
        torch.set_num_threads(threads)
        run(**_run_spec(spec))
        return
    spec_file = Path(spec["out_dir"]) / "launch.json"
    write_json(spec, spec_file)
    command = accelerate_command(processes, ["-m", "fixate.launch", str(spec_file)])
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, threads // processes))}
    if devices:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, devices))
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
    with exit_with_parent():  # the launcher's death ends the workers too
        run(**_run_spec(json.loads(Path(spec_file).read_text())))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
