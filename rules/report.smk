# Report layer: the overview page, the summary tables and the configuration as HTML, and the
# comparison with published figures, for `snakemake --report report.html` (which also collects
# every stage's report() plots). Categories, order and entry names: deeppp/report/layout.py.
#   snakemake --cores 2 report && snakemake --report report.html
import os
from pathlib import Path

from deeppp.atomic import write_text_atomic
from deeppp.contracts import BTAGGING_FILE, ML_TEST_SCORES_FILE, SPLITS, dataset_file_name
from deeppp.report.captions import caption_facts
from deeppp.report.layout import ml_subcategory, report_args
from deeppp.report.tables import config_yaml_text

REPORT_DIR = f"{RESULTS}/report"
#: Light/c-jet rejection of the detector's b-tagging, when the reconstruction stage writes it.
BTAGGING_JSON = f"{RECONSTRUCTION_PLOT_DIR}/{BTAGGING_FILE}"


def comparison_models():
    """The unpruned tagger and the AutoPruner hidden budgets: the models a reader compares."""
    return [m for m in ml_model_names(core_only=True) if m == "unpruned" or m.startswith("autopruner_h")]


def _produced_by_workflow(path):
    """Whether some rule declares ``path`` as an output (optional inputs of the overview)."""
    return any(str(f) == path for r in workflow.rules for f in r.output)


def _overview_inputs(wildcards):
    inputs = {
        "metrics": [ml_model_file(m, "metrics.json") for m in ml_model_names(core_only=True)],
        "firmware": [f"{FIRMWARE_DIR}/{m}/report.json" for m in firmware_models()],
        "scores": f"{ML_STUDY_DIR}/{ML_TEST_SCORES_FILE}",
        "datasets": [f"{RESULTS}/dataset/{dataset_file_name(s)}" for s in SPLITS],
        "config": f"{REPORT_DIR}/config.yaml",
    }
    if _produced_by_workflow(BTAGGING_JSON):
        inputs["btagging"] = BTAGGING_JSON
    return inputs


rule report_overview:
    """Headline numbers of every method and budget, paired comparisons, conclusion, samples."""
    input:
        unpack(_overview_inputs),
    output:
        html=report(f"{REPORT_DIR}/overview.html", caption="../report/overview.rst",
                    **report_args("overview.html", "overview")),
        json=f"{REPORT_DIR}/overview.json",
    params:
        caption=caption_facts("json"),
        btagging=lambda wildcards, input: f"--btagging {input.btagging}" if "btagging" in input.keys() else "",
    log:
        f"{RESULTS}/logs/report/overview.log",
    benchmark:
        f"{RESULTS}/benchmarks/report/overview.tsv"
    shell:
        "python -m deeppp.report overview --metrics {input.metrics} --firmware {input.firmware} "
        "--scores {input.scores} --datasets {input.datasets} --config {input.config} "
        "{params.btagging} --out-dir " + REPORT_DIR + " > {log} 2>&1"


def _comparison_inputs(wildcards):
    inputs = {
        "metrics": [ml_model_file(m, "metrics.json") for m in comparison_models()],
        # relative to the repository, so the workflow runs from any --directory
        "reference": os.path.join(workflow.basedir, "report", "atlas_reference.yaml"),
    }
    if _produced_by_workflow(BTAGGING_JSON):
        inputs["btagging"] = BTAGGING_JSON
    return inputs


rule report_comparison:
    """deeppp's rejection/AUC beside published figures (report/atlas_reference.yaml)."""
    input:
        unpack(_comparison_inputs),
    output:
        html=report(f"{REPORT_DIR}/comparison.html", caption="../report/comparison.rst",
                    **report_args("comparison", "comparison")),
        png=report(f"{REPORT_DIR}/comparison.png", caption="../report/comparison_plot.rst",
                   **report_args("comparison_plot", "comparison")),
        csv=f"{REPORT_DIR}/comparison.csv",
        md=f"{REPORT_DIR}/comparison.md",
        json=f"{REPORT_DIR}/comparison.json",
    params:
        caption=caption_facts("json"),
        pileup_mu=config["reconstruction"]["pileup"]["mu"],
        btagging=lambda wildcards, input: f"--btagging {input.btagging}" if "btagging" in input.keys() else "",
    log:
        f"{RESULTS}/logs/report/comparison.log",
    shell:
        "python -m deeppp.report comparison --metrics {input.metrics} --reference {input.reference} "
        "--pileup-mu {params.pileup_mu} {params.btagging} --out-dir " + REPORT_DIR + " > {log} 2>&1"


rule report_tables:
    """The ml and firmware summary tables as HTML pages the report shows inline."""
    input:
        ml=f"{ML_STUDY_DIR}/summary.csv",
        firmware=f"{FIRMWARE_DIR}/summary.csv",
    output:
        ml=report(f"{REPORT_DIR}/ml_summary.html", caption="../report/tables/ml_summary.rst",
                  **report_args("ml_summary", "ml", ml_subcategory("summary"))),
        firmware=report(f"{REPORT_DIR}/firmware_summary.html",
                        caption="../report/tables/firmware_summary.rst",
                        **report_args("firmware_summary", "firmware")),
    log:
        f"{RESULTS}/logs/report/tables.log",
    shell:
        "(python -m deeppp.report table ml --csv {input.ml} --out {output.ml} && "
        "python -m deeppp.report table firmware --csv {input.firmware} --out {output.firmware}) "
        "> {log} 2>&1"


def workflow_config_file():
    """The validated configuration as one YAML file, written at parse time when it changed (as
    rules/common.smk writes each stage's section), so editing the config reruns report_config."""
    path = Path(RESULTS, "config", "workflow.yaml")
    text = config_yaml_text(config)
    if not path.is_file() or path.read_text() != text:
        write_text_atomic(path, text)
    return str(path)


rule report_config:
    """The validated configuration of this run: YAML to download and highlighted HTML to read."""
    input:
        # A file rather than params: the report's info panel then shows no YAML-in-a-string,
        # and the job runs in its own process, so its recorded run time is never negative
        # (a job of a millisecond can finish "before" it started at the file system's clock).
        config=workflow_config_file(),
    output:
        html=report(f"{REPORT_DIR}/config.html", caption="../report/config.rst",
                    **report_args("config", "config")),
        yaml=report(f"{REPORT_DIR}/config.yaml", caption="../report/config_yaml.rst",
                    **report_args("config.yaml", "config")),
    log:
        f"{RESULTS}/logs/report/config.log",
    shell:
        "python -m deeppp.report config --config {input.config} --copy-to {output.yaml} "
        "--out {output.html} > {log} 2>&1"


rule report:
    """Target: everything the HTML report shows beyond the stages' own plots."""
    input:
        rules.report_overview.output,
        rules.report_comparison.output,
        rules.report_tables.output,
        rules.report_config.output,
