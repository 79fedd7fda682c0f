"""Write a synthetic AdSERP ``data/`` folder: every participant's trials and the planted truth.

Random numbers come from generators keyed by (seed, participant[, trial]), so equal arguments
give byte-identical files.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path

import pandas as pd

from fixate.data.adserp.raw import ORGANIC_FOLDER, PARTICIPANTS_FILE, TRIAL_FOLDERS
from fixate.data.synthetic.adserp.design import (
    N_BLOCKS,
    STUDY_START,
    TRIALS_PER_BLOCK,
    adserp_user_ids,
    participants_table,
    query_slug,
    trial_slots,
    user_style,
)
from fixate.data.synthetic.adserp.files import (
    final_click_kind,
    metadata_xml,
    write_logs,
    write_page,
)
from fixate.data.synthetic.adserp.page import page_layout
from fixate.data.synthetic.adserp.simulator import LONGEST_STOP_MS, Simulator
from fixate.data.synthetic.adserp.truth import kept_ms_table, trial_truth, write_truth
from fixate.data.synthetic.seeding import keyed_rng, map_in_processes
from fixate.data.tables import write_csv


def generate_adserp(
    out_dir: str | Path,
    n_users: int = 6,
    seed: int = 11,
    trials_per_user: int = 59,
    n_batches: int = 240,
    organic: bool = True,
    workers: int = 1,
) -> dict:
    """Write a synthetic AdSERP ``data/`` folder and return a summary of what was written.

    Folders: ``fixation-data``, ``pupil-data``, ``mouse-movement-data``, ``ad-boundary-data``,
    ``trial-metadata``, ``full-page-screenshots`` (and ``organic-aoi-data`` with ``organic``),
    plus ``participants.csv``. Each block draws one of ``n_batches`` query batches; fewer batches
    mean more queries shared between participants. Equal arguments give byte-identical files.
    The planted gaze truth goes to ``truth/`` beside them (:mod:`.truth`); it draws no
    random numbers, so the released-format files are the same with or without it.
    Participants are simulated in ``workers`` processes: each draws from its own keyed
    generators, so the files are the same whatever ``workers`` is.
    """
    if not 1 <= trials_per_user <= N_BLOCKS * TRIALS_PER_BLOCK:
        raise ValueError(f"trials_per_user must be 1-{N_BLOCKS * TRIALS_PER_BLOCK}")
    if n_batches < 1:
        raise ValueError("n_batches must be positive")
    out = Path(out_dir)
    users = adserp_user_ids(n_users)
    write_csv(participants_table(seed, users), out / PARTICIPANTS_FILE)
    folders = {role: out / folder for role, (folder, _) in TRIAL_FOLDERS.items()}
    for folder in [*folders.values(), out / "pupil-data", out / ORGANIC_FOLDER]:
        folder.mkdir(parents=True, exist_ok=True)
    one_user = partial(_user_trials, out, seed, trials_per_user, n_batches, organic)
    per_user = map_in_processes(one_user, list(enumerate(users)), workers)
    truths = [frame for frames, _ in per_user for frame in frames]
    outcomes = [kind for _, kinds in per_user for kind in kinds]
    write_truth(truths, out, seed)
    clicks: dict[str, int] = {}
    for kind, _, _ in outcomes:
        clicks[kind] = clicks.get(kind, 0) + 1
    return {
        "n_users": n_users,
        "n_trials": len(outcomes),
        "final_clicks": clicks,
        "trials_with_several_clicks": sum(multi for _, multi, _ in outcomes),
        "trials_with_a_late_scroll": sum(short for _, _, short in outcomes),
    }


def _user_trials(
    out: Path,
    seed: int,
    trials_per_user: int,
    n_batches: int,
    organic: bool,
    numbered_user: tuple[int, str],
) -> tuple[list[pd.DataFrame], list[tuple[str, bool, bool]]]:
    """Simulate and write the trials of the ``u``-th participant, ``numbered_user = (u, user)``;
    returns their truth rows and, per trial, the kind of the final click and whether it holds an
    earlier click and a late scroll."""
    u, user = numbered_user
    style = user_style(seed, user)
    kept_ms = kept_ms_table(style.fix_median, LONGEST_STOP_MS)
    user_rng = keyed_rng(seed, "batches", user)
    batches = user_rng.choice(n_batches, size=N_BLOCKS, replace=n_batches < N_BLOCKS) + 1
    t0 = int((STUDY_START + timedelta(days=2 * u)).timestamp() * 1000)
    truths, outcomes = [], []
    for block, trial_no in trial_slots(seed, user, trials_per_user):
        trial = f"{user}-b{block}-t{trial_no}"
        rng = keyed_rng(seed, "trial", trial)
        batch = int(batches[block - 1])
        slug = query_slug(seed, batch, trial_no)
        doc_h, page_h, items = page_layout(rng, slug)
        sim = Simulator(rng, style, items, page_h)
        multi, too_short = rng.random() < 0.05, rng.random() < 0.03
        log = sim.simulate(t0, several_clicks=multi, short_final=too_short)
        truths.append(trial_truth(sim, log, trial, kept_ms))
        mouse = write_logs(out, trial, sim, log, rng, t0)
        metadata = metadata_xml(t0, slug, batch, trial_no, doc_h)
        write_page(out, trial, items, page_h, metadata, slug.replace("-", " "), seed, organic)
        outcomes.append((final_click_kind(mouse), bool(multi), bool(too_short)))
        t0 = log.t_end + int(rng.integers(8000, 40000))
    return truths, outcomes
