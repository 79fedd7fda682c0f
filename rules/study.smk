"""The known-truth study: how much of each synthetic user's planted gaze the simulators recover."""


rule known_truth:
    """Every operator over the study's seeds on each dataset, and the shared-prompt control,
    scored against the planted truth: R per method, the per-user tests, the identity test."""
    input:
        study_runs(),
    output:
        json=f"{RESULTS}/study/known_truth.json",
        md=f"{RESULTS}/study/known_truth.md",
        plot=report(
            f"{RESULTS}/study/known_truth.png", caption="../report/study.rst", category="Figures"
        ),
    log:
        f"{RESULTS}/logs/study/known_truth.log",
    localrule: True
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        study=config["study"],
    script:
        "../workflow_scripts/known_truth.py"
