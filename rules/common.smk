# Helpers shared by the stage rule files.
from pathlib import Path

import yaml

from deeppp.atomic import write_text_atomic


def stage_config(stage):
    """Path of the config file a stage's jobs read: the seed plus that stage's section only.

    Written at parse time, and only when its content changes, so editing e.g. the firmware section
    reruns firmware jobs (newer input) but never regenerates events.
    """
    path = Path(RESULTS, "config", f"{stage}.yaml")
    subset = {"seed": config["seed"], "results_dir": config["results_dir"], stage: config[stage]}
    text = yaml.safe_dump(subset, sort_keys=True)
    if not path.is_file() or path.read_text() != text:
        write_text_atomic(path, text)
    return str(path)
