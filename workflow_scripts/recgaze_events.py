"""Rule recgaze_events: raw logs to the event table."""

from fixate.data.recgaze.events import VisitRules
from fixate.data.recgaze.pipeline import run_events
from fixate.workflow import script_logging

script_logging(snakemake.log[0])
cfg = snakemake.params.preprocess
run_events(
    snakemake.input.summary,
    snakemake.input.non_public,
    snakemake.input.aoi,
    snakemake.output.events,
    snakemake.output.counts,
    VisitRules(
        min_visible_px=cfg["min_visible_px"],
        visit_scroll_px=cfg["visit_scroll_px"],
        visit_min_fixation_ms=cfg["visit_min_fixation_ms"],
    ),
)
