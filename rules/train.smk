"""Training and the four-way test, one job per (dataset, backbone, operator, variant, seed)."""

RUN = f"{RESULTS}/runs/{{dataset}}/{{backbone}}/{{operator}}/{{variant}}/seed{{seed}}"


wildcard_constraints:
    backbone=alternatives(BACKBONES),
    operator=alternatives(OPERATORS),
    seed=r"\d+",
    variant=r"(fixation|cursor)(-[A-Za-z0-9_]+)?",


rule train:
    """Train one personalised soft prompt, then evaluate it four ways and score the baselines."""
    input:
        shards=lambda w: dataset_shards(w.dataset),
        model=lambda w: model_dir(w.backbone),
    output:
        metrics=f"{RUN}/metrics.json",
        per_sample=f"{RUN}/per_sample.parquet",
        prompt=f"{RUN}/prompt.safetensors",
        profiles=f"{RUN}/profiles.json",
        log_csv=f"{RUN}/train_log.csv",
    log:
        f"{RESULTS}/logs/train/{{dataset}}/{{backbone}}/{{operator}}/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{dataset}}/{{backbone}}/{{operator}}/{{variant}}/seed{{seed}}.tsv"
    retries: 1
    conda:
        "../envs/fixate.yaml"
    threads: 2
    resources:
        # devices of one run: 2+ trains data parallel (`--set-resources train:gpu=2`)
        gpu=1,
        # 15 GB for the job, plus the feature cache's host tier
        mem_mb=lambda w, attempt: (15000 + 1074 * config["feature_cache"]["host_gib"]) * attempt,
        runtime=720,
    params:
        train=lambda w: {
            **train_settings(w.variant),
            "probe": {
                **config.get("train", {}).get("probe", {}),
                **({"instruction": INSTRUCTIONS[w.dataset]} if w.dataset in INSTRUCTIONS else {}),
                **SCREEN_FIT.get(w.dataset, {}),
                "operator": w.operator,
            },
        },
        trust_remote_code=lambda w: config["backbones"][w.backbone].get("trust_remote_code", False),
    script:
        "../workflow_scripts/train.py"


rule aggregate:
    """Mean and spread over seeds of every backbone, mode and baseline; the per-user tests."""
    input:
        runs=lambda w: expand(
            f"{run_dir(w.dataset, '{backbone}', w.operator, '{variant}', '{seed}')}/metrics.json",
            backbone=config["experiment"]["backbones"],
            variant=variants(),
            seed=config["experiment"]["seeds"],
        ),
    output:
        f"{RESULTS}/{{dataset}}_{{operator}}.json",
    log:
        f"{RESULTS}/logs/aggregate/{{dataset}}_{{operator}}.log",
    localrule: True
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        experiment=config["experiment"],
    script:
        "../workflow_scripts/aggregate.py"
