"""Command line: ``python -m fixate simulate|enroll|check-gallery ...``.

The same functions run behind the workflow's rules `simulate` and `enroll`; the command line is for
a trained run used outside the workflow (README, "Simulating users").
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from fixate.data.samples import read_samples
from fixate.enroll import EnrollConfig, enroll, save_enrolled
from fixate.simulate.gallery import inspect_gallery
from fixate.simulate.outputs import ALL_USERS, simulate_to_folder
from fixate.simulate.screens import ScreenSpecError
from fixate.simulate.simulator import TrainedRun


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fixate", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sim = commands.add_parser("simulate", help="where users would look and click on new screens")
    sim.add_argument("--run", required=True, help="a finished training run folder")
    sim.add_argument("--screens", required=True, help="a screen spec file, or sample shards")
    sim.add_argument("--users", default=ALL_USERS, help="comma-separated user ids, or 'all'")
    sim.add_argument("--out", required=True, help="output folder (replaced when it exists)")
    sim.add_argument("--operator", help="read the model with this operator (default: the run's)")
    sim.add_argument("--enrolled", nargs="*", default=[], help="enrolled users' prompt files")
    sim.add_argument("--model", help="the backbone folder, if it has moved since training")
    sim.add_argument("--batch-size", type=int, default=8)
    enr = commands.add_parser("enroll", help="fit new users' weights from a few sessions")
    enr.add_argument("--run", required=True, help="a finished training run folder")
    enr.add_argument("--samples", required=True, nargs="+", help="the new users' sample shards")
    enr.add_argument("--sessions", type=int, required=True, help="sessions per user to fit on")
    enr.add_argument("--out", required=True, help="the enrolled users' .safetensors file")
    enr.add_argument("--model", help="the backbone folder, if it has moved since training")
    for name, value in EnrollConfig().__dict__.items():
        enr.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    check = commands.add_parser("check-gallery", help="open a gallery in headless Chromium")
    check.add_argument("index", help="the gallery's index.html")
    check.add_argument("--screenshot", help="save a screenshot of the whole page here (PNG)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "simulate":
            users = ALL_USERS if args.users == ALL_USERS else args.users.split(",")
            gallery = simulate_to_folder(
                args.run,
                args.screens,
                users,
                args.out,
                operator=args.operator,
                enrolled=args.enrolled,
                model_dir=args.model,
                batch_size=args.batch_size,
            )
            print(f"gallery: {gallery}")
        elif args.command == "check-gallery":
            counts = inspect_gallery(args.index, args.screenshot)
            print(
                f"{counts['loaded']} of {counts['images']} pictures shown, {counts['rows']} users"
            )
            return 0 if counts["images"] and counts["loaded"] == counts["images"] else 1
        else:
            run = TrainedRun.load(args.run)
            backbone = run.backbone(args.model)
            samples = read_samples(args.samples)
            config = EnrollConfig(args.steps, args.lr, args.batch_size, args.seed)
            prompt = enroll(run, backbone, samples, args.sessions, config)
            save_enrolled(prompt, samples, args.sessions, config, args.out)
            print(f"enrolled {', '.join(prompt.user_ids)}: {args.out}")
    except (ScreenSpecError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
