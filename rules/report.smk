"""Tables and figures of the results, and their captions for `snakemake --report`."""


rule tables:
    """The results table of a dataset (and its ablation table when ablations ran)."""
    input:
        lambda w: aggregates_of(w.dataset),
    output:
        csv=report(
            f"{RESULTS}/tables/{{dataset}}.csv", caption="../report/table.rst", category="Tables"
        ),
        md=f"{RESULTS}/tables/{{dataset}}.md",
    log:
        f"{RESULTS}/logs/report/tables_{{dataset}}.log",
    localrule: True
    conda:
        "../envs/fixate.yaml"
    params:
        variants=config["experiment"]["signals"],
        title=lambda w: f"{w.dataset} results",
        fixate_only=False,
    script:
        "../workflow_scripts/tables.py"


rule ablation_table:
    """FixATE under each configured ablation."""
    input:
        lambda w: aggregates_of(w.dataset),
    output:
        csv=report(
            f"{RESULTS}/tables/{{dataset}}_ablations.csv",
            caption="../report/table.rst",
            category="Tables",
        ),
        md=f"{RESULTS}/tables/{{dataset}}_ablations.md",
    log:
        f"{RESULTS}/logs/report/ablations_{{dataset}}.log",
    localrule: True
    conda:
        "../envs/fixate.yaml"
    params:
        variants=[v for v in variants() if "-" in v],
        title=lambda w: f"{w.dataset} ablations",
        fixate_only=True,
    script:
        "../workflow_scripts/tables.py"


rule plot_metrics:
    """Metric bars with seed error bars."""
    input:
        lambda w: aggregates_of(w.dataset),
    output:
        report(
            f"{RESULTS}/plots/{{dataset}}_metrics.png",
            caption="../report/metrics.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/report/metrics_{{dataset}}.log",
    localrule: True
    conda:
        "../envs/fixate.yaml"
    params:
        variant=config["experiment"]["signals"][0],
    script:
        "../workflow_scripts/plot_metrics.py"


rule plot_training:
    """Training curves of every seed of the main variant."""
    input:
        lambda w: expand(
            f"{run_dir(w.dataset, w.backbone, w.operator, config['experiment']['signals'][0], '{seed}')}/train_log.csv",
            seed=config["experiment"]["seeds"],
        ),
    output:
        report(
            f"{RESULTS}/plots/{{dataset}}_{{backbone}}_{{operator}}_training.png",
            caption="../report/training.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/report/training_{{dataset}}_{{backbone}}_{{operator}}.log",
    localrule: True
    conda:
        "../envs/fixate.yaml"
    script:
        "../workflow_scripts/plot_training.py"


rule plot_screens:
    """A few test screens: gaze, backbone and FixATE attention side by side."""
    input:
        shards=lambda w: dataset_shards(w.dataset),
        per_sample=lambda w: f"{main_run(w.dataset, w.backbone, w.operator)}/per_sample.parquet",
    output:
        report(
            f"{RESULTS}/plots/{{dataset}}_{{backbone}}_{{operator}}_screens.png",
            caption="../report/screens.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/report/screens_{{dataset}}_{{backbone}}_{{operator}}.log",
    localrule: True
    conda:
        "../envs/fixate.yaml"
    params:
        signal=config["experiment"]["signals"][0],
    script:
        "../workflow_scripts/plot_screens.py"
