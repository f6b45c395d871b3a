# Report layer: the comparison with published ATLAS figures and the configuration used, for
# `snakemake --report report.html` (which also collects every stage's report() plots).
#   snakemake --cores 2 report && snakemake --report report.html
import os

import yaml

REPORT_DIR = f"{RESULTS}/report"


def comparison_models():
    """The unpruned tagger and the AutoPruner hidden budgets: the models a reader compares."""
    return [m for m in ml_model_names(core_only=True) if m == "unpruned" or m.startswith("autopruner_h")]


rule report_comparison:
    """deeppp's rejection/AUC beside published figures (report/atlas_reference.yaml)."""
    input:
        metrics=[ml_model_file(m, "metrics.json") for m in comparison_models()],
        # relative to the repository, so the workflow runs from any --directory
        reference=os.path.join(workflow.basedir, "report", "atlas_reference.yaml"),
    output:
        png=report(f"{REPORT_DIR}/comparison.png", caption="../report/comparison.rst",
                   category="Comparison with ATLAS"),
        html=report(f"{REPORT_DIR}/comparison.html", caption="../report/comparison_table.rst",
                    category="Comparison with ATLAS"),
        csv=f"{REPORT_DIR}/comparison.csv",
        md=f"{REPORT_DIR}/comparison.md",
    log:
        f"{RESULTS}/logs/report/comparison.log",
    shell:
        "python -m deeppp.report comparison --metrics {input.metrics} --reference {input.reference} "
        "--out-dir " + REPORT_DIR + " > {log} 2>&1"


rule report_config:
    """The validated configuration of this run, shown in the report."""
    output:
        report(f"{REPORT_DIR}/config.yaml", caption="../report/config.rst", category="Configuration"),
    params:
        text=yaml.safe_dump(dict(config), sort_keys=True),
    log:
        f"{RESULTS}/logs/report/config.log",
    run:
        from deeppp.atomic import write_text_atomic

        write_text_atomic(output[0], params.text)
        write_text_atomic(log[0], f"wrote {output[0]} ({len(params.text)} bytes)\n")


rule report:
    """Target: everything the HTML report shows beyond the stages' own plots."""
    input:
        rules.report_comparison.output,
        rules.report_config.output,
