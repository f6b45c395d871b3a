"""``python -m ml``: train the tagger and the pruned models, run the studies.

Every subcommand validates ``--config`` (``deeppp.config.load_config``) and calls one library
function: :func:`ml.jobs.train_model` for models, :func:`ml.studies.run_study` for studies.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from deeppp.cli import OneLineArgumentParser, run_cli
from deeppp.config import load_config
from deeppp.contracts import ML_STUDY_OUTPUTS, MODEL_NAME_GRAMMAR, PRUNING_METHODS

PROG = "python -m ml"
logger = logging.getLogger("ml")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog=PROG,
        description="FCNN H->bb tagger, pruning methods (AutoPruner and baselines), studies.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config", required=True, help="deeppp YAML config (validated against the schema)"
        )
        p.add_argument(
            "--dataset", required=True, type=Path, help="directory with {train,val,test}.root"
        )
        p.add_argument(
            "--models-dir", required=True, type=Path, help="directory of models/{model}/"
        )

    p = sub.add_parser(
        "train",
        help="train one model by name",
        description=f"Model names: {MODEL_NAME_GRAMMAR}. Methods: "
        + "; ".join(f"{k} = {v}" for k, v in PRUNING_METHODS.items()),
    )
    common(p)
    p.add_argument(
        "--model", default="unpruned", help="e.g. unpruned, autopruner_h30, l0_in5_seed1"
    )

    p = sub.add_parser("study", help="run one study (JSON + PNG)")
    common(p)
    p.add_argument("name", choices=[s for s in ML_STUDY_OUTPUTS if s != "summary"])
    p.add_argument("--out", required=True, type=Path, help="study output directory")

    p = sub.add_parser("summarize", help="summary table (CSV + Markdown) and ROC of all models")
    common(p)
    p.add_argument("--out", required=True, type=Path, help="study output directory")

    p = sub.add_parser("models", help="print the model names the config produces")
    p.add_argument("--config", required=True)
    p.add_argument(
        "--core-only",
        action="store_true",
        help="seed-0 models of every method and budget only (what firmware builds)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_config(args.config)
    if args.command == "models":
        from ml.settings import MLSettings, model_names

        print("\n".join(model_names(MLSettings.from_config(config), core_only=args.core_only)))
        return 0
    if args.command in ("study", "summarize"):
        from ml.studies import run_study

        run_study(
            args.name if args.command == "study" else "summary",
            config,
            args.models_dir,
            args.dataset,
            args.out,
        )
        return 0
    from ml.jobs import train_model

    metrics = train_model(config, args.model, args.dataset, args.models_dir)
    auc = metrics.test.auc
    logger.info(
        "%s: layout %s, %d jet passes, test AUC %.4f +- %.4f",
        metrics.model,
        list(metrics.layout),
        metrics.training.jet_passes,
        auc.value if auc.value is not None else float("nan"),
        auc.uncertainty if auc.uncertainty is not None else float("nan"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, prog=PROG))
