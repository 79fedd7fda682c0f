"""A killed job's temporary files are removed when its outputs are written again."""

from __future__ import annotations

import os
import subprocess
import sys

from fixate.data.tables import write_json
from fixate.processes import HOST
from fixate.tempfiles import remove_stale_temps, temp_folder

# Writes an output as the renderers do, and is killed half way.
HALF_WRITTEN = """
import sys, time
from fixate.data.tables import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half a picture")
    print(tmp, flush=True)
    time.sleep(600)
"""


def test_a_killed_writers_temporary_goes_when_the_output_is_written_again(tmp_path):
    out = tmp_path / "screens" / "S1.jpg"
    writer = subprocess.Popen(
        [sys.executable, "-c", HALF_WRITTEN, out], stdout=subprocess.PIPE, text=True
    )
    try:
        left = tmp_path / "screens" / writer.stdout.readline().strip()
    finally:
        writer.kill()
        writer.wait()
    assert left.name.startswith(f".S1.jpg.{writer.pid}@{HOST}.") and left.name.endswith(".tmp")
    assert left.exists() and not out.exists()
    write_json({"rerun": True}, out)
    assert not left.exists() and out.exists()
    assert os.listdir(out.parent) == ["S1.jpg"]


def test_only_temporaries_of_stopped_writers_of_that_output_are_removed(tmp_path):
    gone = _dead_pid()
    names = {
        f".a.jpg.{gone}@{HOST}.k2j4_x9q.tmp": True,  # a killed writer of this host
        ".a.jpg.q8x7w6v5.tmp": True,  # an earlier version's temporary: writer unknown
        f".a.jpg.{os.getpid()}@{HOST}.abcdefgh.tmp": False,  # a writer still running
        f".a.jpg.{gone}@another-host.abcdefgh.tmp": False,  # cannot tell: left alone
        f".a.jpg.x.{gone}@{HOST}.abcdefgh.tmp": False,  # another output's (a.jpg.x)
    }
    for name in names:
        (tmp_path / name).write_text("partial")
    staging = tmp_path / f".a.jpg.{gone}@{HOST}.zzzzzzzz.tmp"  # a killed job's folder
    (staging / "inside").mkdir(parents=True)
    removed = remove_stale_temps(tmp_path / "a.jpg")
    assert {p.name for p in removed} == {n for n, stale in names.items() if stale} | {staging.name}
    assert {p.name for p in tmp_path.iterdir()} == {n for n, stale in names.items() if not stale}
    fresh = temp_folder(tmp_path / "a.jpg")
    assert fresh.is_dir() and fresh.name.startswith(f".a.jpg.{os.getpid()}@{HOST}.")


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)
