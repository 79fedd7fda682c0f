"""RecGaze: raw logs -> events -> decision screens -> per-user images and sample shards."""

RG = f"{RESULTS}/recgaze"


if config["recgaze"]["source"] == "synthetic":

    rule recgaze_synthetic:
        """Generate synthetic RecGaze raw logs in the released format (the embedded demo)."""
        output:
            summary=f"{RG}/raw/summary_feedback.csv",
            non_public=f"{RG}/raw/non_public_feedback_dataset.csv",
            aoi=f"{RG}/raw/aoi_data.csv",
            item_features=f"{RG}/raw/item_features.csv",
            user_features=f"{RG}/raw/user_features.csv",
            posters=directory(f"{RG}/raw/posters"),
            truth=f"{RG}/raw/truth/gaze_truth.csv",
        log:
            f"{RESULTS}/logs/recgaze/synthetic.log",
        benchmark:
            f"{RESULTS}/benchmarks/recgaze/synthetic.tsv"
        conda:
            "../envs/fixate.yaml"
        threads: 8
        resources:
            mem_mb=4000,
            runtime=30,
        params:
            synthetic=config["recgaze"]["synthetic"],
        script:
            "../workflow_scripts/recgaze_synthetic.py"


rule recgaze_events:
    """Validate the raw logs; recover scroll, carousel pages and page visits per event."""
    input:
        summary=recgaze_raw("summary_feedback.csv"),
        non_public=recgaze_raw("non_public_feedback_dataset.csv"),
        aoi=recgaze_raw("aoi_data.csv"),
    output:
        events=f"{RG}/tables/events.parquet",
        counts=f"{RG}/tables/event_counts.json",
    log:
        f"{RESULTS}/logs/recgaze/events.log",
    benchmark:
        f"{RESULTS}/benchmarks/recgaze/events.tsv"
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        preprocess=config["recgaze"]["preprocess"],
    script:
        "../workflow_scripts/recgaze_events.py"


rule recgaze_screens:
    """Decision screens: labels, gaze and cursor dwell per slot, the task split, the report."""
    input:
        events=rules.recgaze_events.output.events,
        counts=rules.recgaze_events.output.counts,
        aoi=recgaze_raw("aoi_data.csv"),
        item_features=recgaze_raw("item_features.csv"),
        user_features=recgaze_raw("user_features.csv"),
    output:
        screens=f"{RG}/tables/screens.parquet",
        split=f"{RG}/split.json",
        report=f"{RG}/report.json",
    log:
        f"{RESULTS}/logs/recgaze/screens.log",
    benchmark:
        f"{RESULTS}/benchmarks/recgaze/screens.tsv"
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        split_seed=config["recgaze"]["preprocess"]["split_seed"],
    script:
        "../workflow_scripts/recgaze_screens.py"


rule recgaze_render:
    """Render one user's decision screens, plain and with a letter under every candidate."""
    input:
        screens=rules.recgaze_screens.output.screens,
        aoi=recgaze_raw("aoi_data.csv"),
        item_features=recgaze_raw("item_features.csv"),
        posters=recgaze_posters(),
    output:
        done=f"{RG}/images/{{user}}.json",
    log:
        f"{RESULTS}/logs/recgaze/render/{{user}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/recgaze/render/{{user}}.tsv"
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        quality=config["recgaze"]["render"]["jpeg_quality"],
    script:
        "../workflow_scripts/recgaze_render.py"


rule recgaze_shard:
    """One user's Sample shard: screens joined with their rendered images."""
    input:
        screens=rules.recgaze_screens.output.screens,
        rendered=rules.recgaze_render.output.done,
        truth=recgaze_truth(),
    output:
        shard=f"{RG}/samples/{{user}}.parquet",
    log:
        f"{RESULTS}/logs/recgaze/shard/{{user}}.log",
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/recgaze_shard.py"
