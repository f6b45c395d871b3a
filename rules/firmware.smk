# Firmware: per model an hls4ml project with bit-accurate emulation, da4ml pipelined Verilog at the
# model's own scanned precision and at the common reference precision (Verilator-checked,
# Yosys-synthesised) and report.json; then one summary at the reference precision.
#   snakemake --cores 2 firmware                              the core models of firmware.budgets
#   snakemake --cores 2 results/firmware/autopruner_h30/report.json      one model
# Included after rules/ml.smk (ml_model_names, ml_model_file).

FIRMWARE_DIR = f"{RESULTS}/firmware"
from deeppp.contracts import FIRMWARE_MODEL_FILES, FIRMWARE_PLOTS, dataset_file_name
from deeppp.report.layout import report_args
from firmware.findings import CaptionFindings


from firmware.settings import FirmwareSettings as _FirmwareSettings

_FIRMWARE_SETTINGS = _FirmwareSettings.from_config(config)


def firmware_models():
    """One firmware per model setting (seed replicas and alternative layouts are study-only),
    for the budgets of firmware.budgets (all when null)."""
    return _FIRMWARE_SETTINGS.models_to_build(ml_model_names(core_only=True))


rule firmware_build:
    """One model: hls/ (hls4ml project), rtl/ and reference/rtl/ (da4ml Verilog at the scanned and
    the reference precision), scores.root, report.json; swapped in as one directory."""
    input:
        config=stage_config("firmware"),
        model=ml_model_file("{model}"),
        test=f"{RESULTS}/dataset/{dataset_file_name('test')}",
        val=f"{RESULTS}/dataset/{dataset_file_name('val')}",
    output:
        # scores.root, report.json (report.json last: the file the summary waits for)
        [f"{FIRMWARE_DIR}/{{model}}/{name}" for name in FIRMWARE_MODEL_FILES],
    log:
        f"{RESULTS}/logs/firmware/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/firmware/{{model}}.tsv"
    wildcard_constraints:
        model="|".join(firmware_models()),
    threads: config["firmware"]["threads"]
    # Ahead of the remaining trainings: the unpruned tagger's build (Yosys, minutes) is the
    # longest job of the workflow and can start as soon as that one model is trained.
    priority: 10
    resources:
        mem_mb=3000,
    shell:
        "python -m firmware build --config {input.config} --model {input.model} "
        "--test-data {input.test} --scan-data {input.val} --out " + FIRMWARE_DIR + "/{wildcards.model} "
        "--name {wildcards.model} --no-progress > {log} 2>&1"


rule firmware_summary:
    """Summary table (CSV + Markdown) and plots across all models, at the reference precision."""
    input:
        config=stage_config("firmware"),
        model_files=[f"{FIRMWARE_DIR}/{m}/{name}" for m in firmware_models() for name in FIRMWARE_MODEL_FILES],
    output:
        csv=report(f"{FIRMWARE_DIR}/summary.csv", caption="../report/firmware/summary.rst",
                   **report_args("summary.csv", "firmware")),
        md=f"{FIRMWARE_DIR}/summary.md",
        plots=[
            report(f"{FIRMWARE_DIR}/{p}.png", caption=f"../report/firmware/{p}.rst",
                   **report_args(f"{p}.png", "firmware"))
            for p in FIRMWARE_PLOTS
        ],
    log:
        f"{RESULTS}/logs/firmware/summary.log",
    benchmark:
        f"{RESULTS}/benchmarks/firmware/summary.tsv"
    params:
        model_dirs=" ".join(f"{FIRMWARE_DIR}/{m}" for m in firmware_models()),
        # Read by the captions when the report is rendered (sentences from summary.csv).
        findings=CaptionFindings(f"{FIRMWARE_DIR}/summary.csv"),
    shell:
        "python -m firmware summarize {params.model_dirs} --config {input.config} "
        "--out " + FIRMWARE_DIR + " > {log} 2>&1"


rule firmware:
    """Target: firmware of the core models firmware.budgets selects, and the summary."""
    input:
        rules.firmware_summary.output,
