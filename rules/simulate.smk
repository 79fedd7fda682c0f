"""Using trained simulators: new screens, simulated users, and enrolling users from few sessions."""


rule new_screens:
    """Carousel pages no participant saw (new genre orders and movie assortments), as a screen
    spec: the demo's input to `simulate`."""
    input:
        item_features=recgaze_raw("item_features.csv"),
        aoi=recgaze_raw("aoi_data.csv"),
        posters=recgaze_posters(),
    output:
        directory(NEW_SCREENS),
    log:
        f"{RESULTS}/logs/screens/new_carousels.log",
    benchmark:
        f"{RESULTS}/benchmarks/screens/new_carousels.tsv"
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        n=config["screens"]["n"],
        seed=config["screens"]["seed"],
    script:
        "../workflow_scripts/new_screens.py"


rule simulate:
    """Where each configured user would look on each screen and what they would click: the
    distributions, heatmap overlays beside the population, and a static HTML gallery."""
    input:
        run=lambda w: run_files(simulation(w.name)["run_dir"]),
        screens=lambda w: (
            [NEW_SCREENS]
            if config["simulate"][w.name]["screens"] == "new"
            else [simulation(w.name)["screens_path"]]
        ),
        model=lambda w: model_dir(simulation(w.name)["backbone"]),
    output:
        directory(f"{RESULTS}/simulate/{{name}}"),
    log:
        f"{RESULTS}/logs/simulate/{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate/{{name}}.tsv"
    conda:
        "../envs/fixate.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=120,
    params:
        simulation=lambda w: simulation(w.name),
    script:
        "../workflow_scripts/simulate.py"


rule enroll:
    """Fit the weights of the users a run held out on their first k sessions (bases frozen),
    and score them on their test screens."""
    input:
        run=lambda w: run_files(ENROLL_RUN.format(**w)),
        shards=lambda w: expand(
            f"{RESULTS}/{w.dataset}/samples/{{user}}.parquet",
            user=enrolled_users(w.dataset, w.variant),
        ),
        model=lambda w: model_dir(w.backbone),
    output:
        prompt=f"{ENROLL_RUN}/enrolled/k{{k}}.safetensors",
        profiles=f"{ENROLL_RUN}/enrolled/k{{k}}.json",
        scores=f"{ENROLL_RUN}/enrolled/k{{k}}_test.parquet",
    log:
        f"{RESULTS}/logs/enroll/{{dataset}}/{{backbone}}/{{operator}}/{{variant}}/seed{{seed}}/k{{k}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/enroll/{{dataset}}/{{backbone}}/{{operator}}/{{variant}}/seed{{seed}}/k{{k}}.tsv"
    wildcard_constraints:
        k=r"\d+",
    conda:
        "../envs/fixate.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=120,
    params:
        enroll=config["enroll"],
    script:
        "../workflow_scripts/enroll.py"


rule enroll_curve:
    """The learning curve of enrollment: KL to the observed gaze and to the planted truth, CSH@1
    and answer accuracy of held-out users against the number of sessions they were fitted on."""
    input:
        lambda w: curve_inputs(w.dataset, w.operator),
    output:
        json=f"{RESULTS}/enroll/{{dataset}}_{{operator}}.json",
        md=f"{RESULTS}/enroll/{{dataset}}_{{operator}}.md",
        plot=report(
            f"{RESULTS}/enroll/{{dataset}}_{{operator}}.png",
            caption="../report/enroll.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/enroll/{{dataset}}_{{operator}}.log",
    localrule: True
    conda:
        "../envs/fixate.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        enroll=config["enroll"],
    script:
        "../workflow_scripts/enroll_curve.py"
