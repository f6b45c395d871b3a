# deeppp workflow: generation -> reconstruction -> ml -> firmware -> report.
#   snakemake --cores 2                                  full reproduction on config/default.yaml
#   snakemake --cores 2 generation                       rerun a single stage (also: reconstruction, ml, firmware, report)
#   snakemake --configfile config/paper.yaml --profile profiles/slurm     the reference scale on a cluster
import os
import sys

from deeppp.cli import USAGE_ERROR
from deeppp.config import ConfigError, read_config_file, validate_config

# Jobs run `python -m <stage>`: let that be the interpreter running Snakemake (the project's
# environment) even when its bin/ is not on the caller's PATH.
os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])

# The built-in default applies only when no --configfile is given, so a user's config is used as
# written (schema defaults fill what it omits) rather than merged with config/default.yaml.
if not workflow.config_settings.configfiles:

    configfile: "config/default.yaml"


_CONFIG_FILES = [str(p) for p in workflow.config_settings.configfiles] or ["config/default.yaml"]
try:
    # The same checks as every CLI, before any job starts, with a one-line message naming the
    # key: the YAML itself (Snakemake's loader keeps the last of two duplicate keys), the schema,
    # and every cross-key rule (split fractions, bin edges, budgets, bit widths, detector card).
    for _path in _CONFIG_FILES:
        read_config_file(_path)
    _source = _CONFIG_FILES[0] if len(_CONFIG_FILES) == 1 else "config"
    # Thread limits are checked against this machine's cores only when the jobs run here; on a
    # cluster each job checks them against its node when it loads its config.
    config.update(validate_config(dict(config), source=_source, machine=workflow.local_exec))
except ConfigError as err:
    # One line, as the CLIs print it: Snakemake's WorkflowError would add its own header and a
    # stack line.
    print(f"snakemake: error: {err}", file=sys.stderr)
    sys.exit(USAGE_ERROR)

RESULTS = config["results_dir"]


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/generation.smk"
include: "rules/reconstruction.smk"
include: "rules/ml.smk"
include: "rules/firmware.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        rules.generation.input,
        rules.reconstruction.input,
        rules.ml.input,
        rules.firmware.input,
        rules.report.input,
