"""Rule adserp_trials: one user's trials, as samples or drops with their reasons."""

from pathlib import Path

from fixate.data.adserp.pipeline import run_trials
from fixate.data.adserp.trials import Settings
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
cfg = snakemake.params.preprocess
# rendered SERP boxes (results/adserp/serp_aoi/<trial>.json), once the rule lists them as serp_aoi
rendered = snakemake.input.get("serp_aoi") or []
rendered = [rendered] if isinstance(rendered, str) else list(rendered)
run_trials(
    Path(snakemake.input.participants).parent,
    snakemake.wildcards.user,
    snakemake.output.trials,
    organic_dir=Path(rendered[0]).parent if rendered else None,
    settings=Settings(
        decision_end=cfg["decision_end"],
        min_stop_ms=cfg["min_stop_ms"],
        viewport_h=cfg["viewport_height_px"],
    ),
)
