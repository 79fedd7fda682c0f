"""FixATE: align a frozen vision-language model's attention with each user's gaze.

Run `snakemake --cores 8` for the configured results, or name a target, e.g.
`snakemake --cores 8 results/recgaze/samples/KInIT_1.parquet`.
"""

from snakemake.utils import min_version

min_version("9.27")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/recgaze.smk"
include: "rules/models.smk"
include: "rules/train.smk"
include: "rules/report.smk"
include: "rules/adserp.smk"
include: "rules/study.smk"
include: "rules/simulate.smk"


if adserp_trials():

    include: "rules/adserp_serp.smk"


rule all:
    """Everything the configuration asks for."""
    default_target: True
    input:
        recgaze_outputs(),
        experiment_outputs(),
        report_outputs(),
        adserp_outputs(),
    localrule: True


# last, so that every rule above gets the digest of the library code its script imports
derive_code_digests()
