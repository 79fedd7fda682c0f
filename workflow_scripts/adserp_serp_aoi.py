"""Rule adserp_serp_aoi: organic and ad boxes of every trial from its saved result page, each
checked against the shipped ad boxes and the final click (the check travels in the JSON)."""

import json
from pathlib import Path

from fixate.data.adserp.serp import render_serp_aois
from fixate.data.adserp.serp_check import check_trial_files
from fixate.data.tables import write_json
from fixate.workflow import script_logging

log = script_logging(snakemake.log[0])
pages = [Path(page) for page in snakemake.input.pages]
out_dir = Path(snakemake.output.aoi[0]).parent
render_serp_aois(
    [(p.stem, p) for p in pages],
    out_dir,
    workers=snakemake.threads,
    chromium=snakemake.params.chromium,
)
raw_dir = pages[0].parent.parent
for page in pages:
    path = out_dir / f"{page.stem}.json"
    aoi = json.loads(path.read_text())
    aoi["check"] = check_trial_files(aoi, raw_dir)
    if not aoi["check"]["ok"]:
        log.warning("%s fails the SERP check: %s", page.stem, aoi["check"]["reason"])
    write_json(aoi, path)
