"""AdSERP result pages rendered offline: organic-result and ad boxes of every trial."""


rule adserp_serp_aoi:
    """Render every trial's saved result page in headless Chromium at the study's 90% page zoom,
    with every request but the page blocked; write its organic and ad boxes (screenshot px)."""
    input:
        pages=lambda wildcards: [adserp_raw(f"serps/{trial}.html") for trial in adserp_trials()],
    output:
        aoi=expand(f"{RESULTS}/adserp/serp_aoi/{{trial}}.json", trial=adserp_trials()),
    log:
        f"{RESULTS}/logs/adserp/serp_aoi.log",
    benchmark:
        f"{RESULTS}/benchmarks/adserp/serp_aoi.tsv"
    conda:
        "../envs/fixate.yaml"
    threads: 2
    resources:
        # one browser plus one renderer process (about 250 MB) per page rendered at once
        mem_mb=lambda wildcards, threads: 1000 + 500 * threads,
        # about one CPU second per page; twice that as the limit (minutes)
        runtime=lambda wildcards, threads: 10 + len(adserp_trials()) // (30 * threads),
    params:
        chromium=config["adserp"].get("chromium"),
    script:
        "../workflow_scripts/adserp_serp_aoi.py"
