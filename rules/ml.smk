# ML: the FCNN tagger, every pruning method (ml/methods/) at every budget and seed, the retrained
# AutoPruner layouts, and the studies (JSON + PNG under {RESULTS}/ml/), plus the summary table.
#   snakemake --cores 2 ml                        every model and study the config asks for
#   snakemake --cores 2 results/ml/methods.json   one study (and the models it needs)
#   python -m ml models --config config/default.yaml   the model names
from ml.settings import MLConfigError as _MLConfigError
from ml.settings import MLSettings as _MLSettings
from ml.settings import model_names as _ml_model_names
from ml.settings import model_spec as _ml_model_spec
from deeppp.contracts import BTAGGING_FILE, ML_MODEL_FILES, ML_STUDY_OUTPUTS, RECONSTRUCTION_DIR, SPLITS, dataset_file_name
from ml.settings import study_models as _ml_study_models
from deeppp.report.captions import btagging_facts
from deeppp.report.layout import ml_subcategory, report_args

try:
    # Budgets that contradict the layout (e.g. fewer nodes than hidden layers) stop the workflow
    # here, before any job runs; budgets above the dataset's feature count stop the first ml job.
    _ML_SETTINGS = _MLSettings.from_config(config)
except _MLConfigError as err:
    raise WorkflowError(str(err)) from None

ML_DATASET_DIR = f"{RESULTS}/dataset"
ML_MODELS_DIR = f"{RESULTS}/models"
ML_STUDY_DIR = f"{RESULTS}/ml"


def ml_model_names(core_only=False):
    """Every model the config produces (firmware rules: core_only=True keeps the seed-0 model of
    every method and budget, without seed replicas, alternative layouts and *_nogauge runs)."""
    return _ml_model_names(_ML_SETTINGS, core_only=core_only)


def ml_model_file(model, filename="model.pt"):
    return f"{ML_MODELS_DIR}/{model}/{filename}"


def _ml_train_inputs(wildcards):
    spec = _ml_model_spec(_ML_SETTINGS, wildcards.model)
    inputs = {
        "config": stage_config("ml"),
        "dataset": [f"{ML_DATASET_DIR}/{dataset_file_name(split)}" for split in SPLITS],
    }
    if spec.source_model is not None:
        inputs["source"] = ml_model_file(spec.source_model)
    return inputs


rule ml_train_model:
    """One tagger: unpruned, <method>_<budget>[_alt][_nogauge][_seed<i>] or retrained_<budget>
    (python -m ml train --model NAME)."""
    input:
        unpack(_ml_train_inputs),
    output:
        model=f"{ML_MODELS_DIR}/{{model}}/model.pt",
        metrics=f"{ML_MODELS_DIR}/{{model}}/metrics.json",
        history=f"{ML_MODELS_DIR}/{{model}}/history.json",
    log:
        f"{RESULTS}/logs/ml/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/ml/{{model}}.tsv"
    wildcard_constraints:
        model="|".join(ml_model_names()),
    threads: config["ml"]["threads"]
    resources:
        mem_mb=3000,
    shell:
        "python -m ml train --config {input.config} --model {wildcards.model} "
        "--dataset " + ML_DATASET_DIR + " --models-dir " + ML_MODELS_DIR + " > {log} 2>&1"


def _ml_study_inputs(study):
    models = _ml_study_models(_ML_SETTINGS, study)
    return {
        "config": stage_config("ml"),
        "test": f"{ML_DATASET_DIR}/{dataset_file_name('test')}",
        "models": [ml_model_file(m, f) for m in models for f in ML_MODEL_FILES],
    }


def _ml_study_output(filename, study):
    path = f"{ML_STUDY_DIR}/{filename}"
    if filename.endswith((".png", ".csv")):
        stem = filename.rsplit(".", 1)[0]
        return report(
            path, caption=f"../report/ml/{stem}.rst", **report_args(filename, "ml", ml_subcategory(study))
        )
    return path


for _study, _files in ML_STUDY_OUTPUTS.items():

    rule:
        name:
            f"ml_study_{_study}"
        input:
            **_ml_study_inputs(_study),
        output:
            [_ml_study_output(f, _study) for f in _files],
        params:
            command="summarize" if _study == "summary" else f"study {_study}",
            # the input-ranking caption states how hard b-tagging is in this detector simulation
            btagging=btagging_facts(f"{RESULTS}/{RECONSTRUCTION_DIR}/{BTAGGING_FILE}") if _study == "inputs" else {},
        log:
            f"{RESULTS}/logs/ml/study_{_study}.log",
        benchmark:
            f"{RESULTS}/benchmarks/ml/study_{_study}.tsv"
        shell:
            "python -m ml {params.command} --config {input.config} --dataset "
            + ML_DATASET_DIR
            + " --models-dir "
            + ML_MODELS_DIR
            + " --out "
            + ML_STUDY_DIR
            + " > {log} 2>&1"


rule ml:
    """Target: every model of the config and every study output."""
    input:
        [ml_model_file(m, f) for m in ml_model_names() for f in ML_MODEL_FILES],
        [f"{ML_STUDY_DIR}/{f}" for files in ML_STUDY_OUTPUTS.values() for f in files],
