"""AdSERP: raw trials -> per-user trial tables -> viewport images; split and report -> shards."""

AD = f"{RESULTS}/adserp"


if config["adserp"]["source"] == "synthetic":

    rule adserp_synthetic:
        """Generate synthetic AdSERP trials in the released data/ format (the embedded demo)."""
        output:
            participants=f"{AD}/raw/participants.csv",
            fixations=directory(adserp_raw("fixations")),
            mouse=directory(adserp_raw("mouse")),
            ads=directory(adserp_raw("ads")),
            metadata=directory(adserp_raw("metadata")),
            screenshots=directory(adserp_raw("screenshot")),
            pupil=directory(f"{AD}/raw/pupil-data"),
            organic=directory(adserp_raw(ADSERP_ORGANIC_FOLDER)),
            truth=adserp_raw(ADSERP_TRUTH_FILE),
            truth_info=adserp_raw(ADSERP_TRUTH_INFO),
        log:
            f"{RESULTS}/logs/adserp/synthetic.log",
        benchmark:
            f"{RESULTS}/benchmarks/adserp/synthetic.tsv"
        conda:
            "../envs/fixate.yaml"
        threads: 8
        resources:
            mem_mb=4000,
            runtime=60,
        params:
            synthetic=config["adserp"]["synthetic"],
        script:
            "../workflow_scripts/adserp_synthetic.py"


rule adserp_trials:
    """One user's trials: final scroll stop, last click, visible AOIs and dwell, or a drop reason."""
    input:
        participants=adserp_raw("participants.csv"),
        fixations=adserp_raw("fixations"),
        mouse=adserp_raw("mouse"),
        ads=adserp_raw("ads"),
        metadata=adserp_raw("metadata"),
        screenshots=adserp_raw("screenshot"),
        organic=adserp_organic(),
        serp_aoi=adserp_serp_aoi(),
    output:
        trials=f"{AD}/tables/trials/{{user}}.parquet",
    log:
        f"{RESULTS}/logs/adserp/trials/{{user}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/adserp/trials/{{user}}.tsv"
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        preprocess=config["adserp"]["preprocess"],
    script:
        "../workflow_scripts/adserp_trials.py"


rule adserp_render:
    """One user's final-stop viewports, plain and with every slot outlined and numbered."""
    input:
        trials=rules.adserp_trials.output.trials,
        screenshots=adserp_raw("screenshot"),
    output:
        done=f"{AD}/images/{{user}}.json",
    log:
        f"{RESULTS}/logs/adserp/render/{{user}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/adserp/render/{{user}}.tsv"
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        quality=config["adserp"]["render"]["jpeg_quality"],
    script:
        "../workflow_scripts/adserp_render.py"


rule adserp_split:
    """The query-disjoint split and the report that accounts for every trial."""
    input:
        trials=expand(rules.adserp_trials.output.trials, user=adserp_users()),
        participants=adserp_raw("participants.csv"),
        fixations=adserp_raw("fixations"),
        mouse=adserp_raw("mouse"),
        ads=adserp_raw("ads"),
        metadata=adserp_raw("metadata"),
        screenshots=adserp_raw("screenshot"),
        serp_aoi=adserp_serp_aoi(),
    output:
        split=f"{AD}/split.json",
        report=f"{AD}/report.json",
    log:
        f"{RESULTS}/logs/adserp/split.log",
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        split=config["adserp"]["split"],
    script:
        "../workflow_scripts/adserp_split.py"


rule adserp_shard:
    """One user's Sample shard: kept trials with their split and rendered images (and, for
    synthetic users, the planted gaze truth per slot)."""
    input:
        trials=rules.adserp_trials.output.trials,
        split=rules.adserp_split.output.split,
        rendered=rules.adserp_render.output.done,
        truth=adserp_truth(),
    output:
        shard=f"{AD}/samples/{{user}}.parquet",
    log:
        f"{RESULTS}/logs/adserp/shard/{{user}}.log",
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/adserp_shard.py"
