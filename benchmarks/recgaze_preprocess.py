"""RecGaze preprocessing speed at the full study scale (87 users x 40 tasks, 3,477 sessions).

Times, on whatever cores the process may use (pin it to one with `taskset -c 0`):
  * raw logs -> Sample shards without rendering (stages events + screens + shards), median of runs;
  * rendering: one screen (plain + labelled JPEG), median over many screens.

    python benchmarks/recgaze_preprocess.py --raw results/bench/recgaze_full --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fixate.data.recgaze.layout import load_layout
from fixate.data.recgaze.pipeline import (
    raw_files,
    run_events,
    run_screens,
    samples_from_screens,
    write_screen_images,
)
from fixate.data.recgaze.raw import read_item_features
from fixate.data.recgaze.render import PosterShelf
from fixate.data.samples import write_samples
from fixate.data.synthetic.recgaze import generate_recgaze


def preprocess_once(raw: Path, out: Path) -> tuple[float, int]:
    start = time.perf_counter()
    files = raw_files(raw)
    run_events(
        files["summary"],
        files["non_public"],
        files["aoi"],
        out / "events.parquet",
        out / "counts.json",
    )
    run_screens(
        out / "events.parquet",
        out / "counts.json",
        files["aoi"],
        files["items"],
        files["users"],
        out / "screens.parquet",
        out / "split.json",
        out / "report.json",
    )
    import pandas as pd

    screens = pd.read_parquet(out / "screens.parquet")
    for user in screens["user_id"].unique():
        write_samples(samples_from_screens(screens, user), out / "samples" / f"{user}.parquet")
    return time.perf_counter() - start, len(screens)


def render_times(raw: Path, out: Path, n: int) -> list[float]:
    import pandas as pd

    files = raw_files(raw)
    layout = load_layout(files["aoi"])
    items, _ = read_item_features(files["items"])
    screens = pd.read_parquet(out / "screens.parquet").head(n)
    times = []
    for row in screens.itertuples(index=False):
        start = time.perf_counter()
        shelf = PosterShelf(items[items["TaskID"] == row.task_id], files["posters"], layout)
        write_screen_images(shelf, row, out)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, help="raw folder (generated at full scale if empty)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--render-screens", type=int, default=200)
    args = parser.parse_args()
    raw = args.raw or Path(tempfile.mkdtemp(prefix="recgaze_full_"))
    if not (raw / "summary_feedback.csv").exists():
        start = time.perf_counter()
        summary = generate_recgaze(raw, n_users=87, seed=7, posters=True)
        print(f"generated full-scale raw logs in {time.perf_counter() - start:.1f} s: {summary}")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for _ in range(args.repeats):
            seconds, n_samples = preprocess_once(raw, out)
            runs.append(seconds)
        renders = render_times(raw, out, args.render_screens)
    print(
        f"raw -> samples (no rendering): median {statistics.median(runs):.2f} s over "
        f"{len(runs)} runs ({', '.join(f'{r:.2f}' for r in runs)}); {n_samples} samples"
    )
    per_screen = statistics.median(renders) * 1000
    print(
        f"rendering: median {per_screen:.1f} ms per screen (plain + labelled JPEG), "
        f"{per_screen / 2:.1f} ms per image, over {len(renders)} screens"
    )


if __name__ == "__main__":
    main()
