"""``python -m ml``: train the tagger, AutoPruner and baseline models, and run the studies.

Every subcommand validates ``--config`` (``deeppp.config.load_config``) and calls one library
function: :func:`ml.jobs.train_model` for models, :func:`ml.studies.run_study` for studies.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deeppp.cli import run_cli
from deeppp.config import load_config


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"budget must be a positive number of gates, got {value}")
    return value


def _percent(text: str) -> int:
    value = _positive_int(text)
    if value > 100:
        raise argparse.ArgumentTypeError(
            f"hidden budget is a percentage of all hidden nodes (1..100), got {value}"
        )
    return value


def _seed_suffix(replica: int) -> str:
    return f"_seed{replica}" if replica else ""


def build_parser() -> argparse.ArgumentParser:
    from deeppp.contracts import ML_STUDY_OUTPUTS as STUDY_OUTPUTS

    parser = argparse.ArgumentParser(
        prog="python -m ml",
        description="FCNN H->bb tagger with AutoPruner (pruning during training) and its studies.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, study: bool = False) -> None:
        p.add_argument(
            "--config", required=True, help="deeppp YAML config (validated against the schema)"
        )
        p.add_argument(
            "--dataset", required=True, type=Path, help="directory with {train,val,test}.root"
        )
        p.add_argument(
            "--models-dir", required=True, type=Path, help="directory of models/{model}/"
        )
        if not study:
            p.add_argument("--replica", type=int, default=0, help="seed replica (0 = main model)")

    p = sub.add_parser("train", help="train a model by name (default: the unpruned tagger)")
    common(p)
    p.add_argument(
        "--model", default="unpruned", help="model name, e.g. unpruned, autopruner_h30, ptr_h50"
    )

    p = sub.add_parser("prune", help="AutoPruner: prune inputs or hidden nodes during one training")
    common(p)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--keep-inputs", type=_positive_int, metavar="K", help="keep exactly K input features"
    )
    group.add_argument(
        "--keep-hidden-percent",
        type=_percent,
        metavar="P",
        help="keep P %% of all hidden nodes (or multiplications)",
    )
    p.add_argument(
        "--alt-layout", action="store_true", help="use ml.alt_hidden_layout (input selection only)"
    )

    p = sub.add_parser("retrain", help="retrain an AutoPruner model's reduced layout from scratch")
    common(p)
    p.add_argument("--keep-hidden-percent", type=_percent, required=True, metavar="P")

    p = sub.add_parser("ptr", help="classic prune/train/repeat baseline (node L1 norm)")
    common(p)
    p.add_argument("--keep-hidden-percent", type=_percent, required=True, metavar="P")

    p = sub.add_parser("study", help="run one study (JSON + PNG)")
    common(p, study=True)
    p.add_argument("name", choices=[s for s in STUDY_OUTPUTS if s != "summary"])
    p.add_argument("--out", required=True, type=Path, help="study output directory")

    p = sub.add_parser("summarize", help="summary table (CSV + Markdown) and ROC of all models")
    common(p, study=True)
    p.add_argument("--out", required=True, type=Path, help="study output directory")

    p = sub.add_parser("models", help="print the model names the config produces")
    p.add_argument("--config", required=True)
    p.add_argument(
        "--core-only", action="store_true", help="without seed replicas and alt-layout models"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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

    suffix = _seed_suffix(args.replica)
    if args.command == "train":
        name = args.model + suffix
    elif args.command == "prune":
        if args.keep_inputs is not None:
            name = f"autopruner_in{args.keep_inputs}{'_alt' if args.alt_layout else ''}{suffix}"
        else:
            name = f"autopruner_h{args.keep_hidden_percent}{suffix}"
    else:
        name = f"{'retrained' if args.command == 'retrain' else 'ptr'}_h{args.keep_hidden_percent}{suffix}"
    metrics = train_model(config, name, args.dataset, args.models_dir)
    auc = metrics["test"]["auc"]
    print(
        f"{name}: layout {metrics['layout']}, test AUC {auc['value']:.4f} +- {auc['uncertainty']:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
