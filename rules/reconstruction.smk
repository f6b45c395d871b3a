# Reconstruction: fast detector simulation, jets and the 39 features of every event chunk, the
# train/val/test datasets (deterministic split, pT/eta training weights) and the plots.
#   snakemake --cores 2 reconstruction            features, datasets and plots
#   snakemake --cores 2 results/dataset/train.root

from deeppp.contracts import (
    BTAGGING_FILE,
    RECONSTRUCTION_DATA_CAPTIONS,
    RECONSTRUCTION_DIR,
    RECONSTRUCTION_PLOTS,
    SPLITS,
    chunk_file_name,
    dataset_file_name,
)
from deeppp.report.layout import reconstruction_subcategory, report_args

RECONSTRUCTION_PLOT_DIR = f"{RESULTS}/{RECONSTRUCTION_DIR}"


def features_file(process, chunk):
    return f"{RESULTS}/features/{process}/{chunk_file_name(chunk)}"


def all_features_files():
    """One features file per configured (process, chunk)."""
    return [
        features_file(process, chunk)
        for process, spec in config["generation"]["processes"].items()
        for chunk in range(spec["chunks"])
    ]


def plot_features_files():
    """The first ``plot_max_chunks`` chunks of each process: plots need statistics, not every jet."""
    limit = config["reconstruction"]["plot_max_chunks"]
    return [
        features_file(process, chunk)
        for process, spec in config["generation"]["processes"].items()
        for chunk in range(min(spec["chunks"], limit))
    ]


def _pileup_mu():
    return config["reconstruction"]["pileup"]["mu"]


def _reconstruct_inputs(wildcards):
    """The chunk's events, the stage config, and the min-bias library when pile-up is on."""
    inputs = {
        "events": f"{RESULTS}/events/{wildcards.process}/{wildcards.chunk}.root",
        "config": stage_config("reconstruction"),
    }
    if _pileup_mu() > 0:
        inputs["library"] = pileup_library_file()
    return inputs


def _pileup_option(wildcards, input):
    return f"--pileup-library {input.library}" if _pileup_mu() > 0 else ""


rule reconstruct_chunk:
    """Detector simulation, large-R and VR track jets, labels and features of one event chunk."""
    input:
        unpack(_reconstruct_inputs),
    output:
        f"{RESULTS}/features/{{process}}/{{chunk}}.root",
    log:
        f"{RESULTS}/logs/reconstruction/{{process}}_{{chunk}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/reconstruction/{{process}}_{{chunk}}.tsv"
    wildcard_constraints:
        process="signal|background",
        chunk=r"\d{3}",
    resources:
        # ~1.1 GB at mu = 200 with pileup.batch_events = 100 (benchmarks/reconstruction.py)
        mem_mb=lambda wc: 2000 + int(10 * _pileup_mu()),
        # ~3 ms per event without pile-up, ~0.2 ms more per pile-up interaction (2-core machine)
        runtime=lambda wc: 10
        + config["generation"]["processes"][wc.process]["events_per_chunk"]
        * (3 + 0.2 * _pileup_mu())
        // 60000,
    params:
        pileup=_pileup_option,
    shell:
        "python -m reconstruction run --events {input.events} --out {output} --config {input.config} "
        "--process {wildcards.process} --chunk $((10#{wildcards.chunk})) {params.pileup} --no-progress > {log} 2>&1"


rule merge_dataset:
    """train/val/test datasets from every features file, with flattening weights."""
    input:
        features=all_features_files(),
        config=stage_config("reconstruction"),
    output:
        [f"{RESULTS}/dataset/{dataset_file_name(split)}" for split in SPLITS],
    log:
        f"{RESULTS}/logs/reconstruction/merge.log",
    benchmark:
        f"{RESULTS}/benchmarks/reconstruction/merge.tsv"
    resources:
        mem_mb=6000,
    params:
        out_dir=f"{RESULTS}/dataset",
    shell:
        "python -m reconstruction merge --features {input.features} --out-dir {params.out_dir} "
        "--config {input.config} > {log} 2>&1"


def _reconstruction_caption(stem):
    """Fixed captions live in report/reconstruction/; those stating results are written by the
    plots job next to the plots, with the numbers it measured (absolute path: the report reads
    them from the working directory, which need not be the repository)."""
    if stem in RECONSTRUCTION_DATA_CAPTIONS:
        return str(Path(RECONSTRUCTION_PLOT_DIR, "captions", f"{stem}.rst").resolve())
    return f"../report/reconstruction/{stem}.rst"


rule reconstruction_plots:
    """Features (signal vs background), trimmed mass, VR track-jet multiplicity and b-tagging plots."""
    input:
        features=plot_features_files(),
    output:
        [
            report(
                f"{RECONSTRUCTION_PLOT_DIR}/{name}",
                caption=_reconstruction_caption(name.removesuffix(".png")),
                **report_args(name, "reconstruction", reconstruction_subcategory(name)),
            )
            for name in RECONSTRUCTION_PLOTS
        ],
        [f"{RECONSTRUCTION_PLOT_DIR}/captions/{stem}.rst" for stem in RECONSTRUCTION_DATA_CAPTIONS],
        f"{RECONSTRUCTION_PLOT_DIR}/{BTAGGING_FILE}",
    log:
        f"{RESULTS}/logs/reconstruction/plots.log",
    resources:
        mem_mb=4000,
    params:
        out_dir=RECONSTRUCTION_PLOT_DIR,
    shell:
        "python -m reconstruction plots --features {input.features} --out-dir {params.out_dir} > {log} 2>&1"


rule reconstruction:
    """Target: every features file, the three dataset splits and the plots."""
    input:
        all_features_files(),
        rules.merge_dataset.output,
        rules.reconstruction_plots.output,
