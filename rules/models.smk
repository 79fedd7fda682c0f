"""Backbones: tiny random models of the real classes for the demo (real checkpoints are used as is)."""


rule model_tiny:
    """Materialise a tiny randomly initialised model with its offline tokenizer and processor."""
    output:
        directory(f"{RESULTS}/models/{{name}}"),
    wildcard_constraints:
        name="|".join(TINY_MODELS),
    params:
        code=library("fixate/models"),
    log:
        f"{RESULTS}/logs/models/{{name}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/fixate.yaml"
    script:
        "../workflow_scripts/model_tiny.py"
