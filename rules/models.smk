"""Backbones: tiny random models of the real classes for the demo (real checkpoints are used as is)."""


rule model_tiny:
    """Materialise a tiny randomly initialised model with its offline tokenizer and processor."""
    output:
        directory(f"{RESULTS}/models/{{name}}"),
    log:
        f"{RESULTS}/logs/models/{{name}}.log",
    wildcard_constraints:
        name="|".join(TINY_MODELS),
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../workflow_scripts/model_tiny.py"


rule model_seeing:
    """Train a tiny model to see the synthetic RecGaze screens (which carousel shows which genre,
    which poster a letter names), so the known-truth study can tell the method from a blind
    backbone; its perception before and after goes into the report."""
    input:
        base=f"{RESULTS}/models/{{name}}",
        screens=f"{RESULTS}/recgaze/tables/screens.parquet",
        item_features=recgaze_raw("item_features.csv"),
        rendered=lambda w: expand(f"{RESULTS}/recgaze/images/{{user}}.json", user=recgaze_users()),
    output:
        model=directory(f"{RESULTS}/models/{{name}}-seeing"),
        report=f"{RESULTS}/models/{{name}}-seeing.json",
    log:
        f"{RESULTS}/logs/models/{{name}}-seeing.log",
    benchmark:
        f"{RESULTS}/benchmarks/models/{{name}}-seeing.tsv"
    wildcard_constraints:
        name="|".join(TINY_MODELS),
    conda:
        "../envs/fixate.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=lambda w: 10 + config["see"]["steps"] // 50,
    params:
        see=config["see"],
        kind=lambda w: w.name.removeprefix("tiny-"),
        dataset_dir=lambda w, input: str(Path(input.screens).parent.parent),
    script:
        "../workflow_scripts/model_seeing.py"
