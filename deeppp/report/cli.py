"""Command line of the report layer (what the rules in rules/report.smk run).

python -m deeppp.report overview   --metrics M.json... --firmware R.json... --scores S.root
                                   --datasets train.root val.root test.root --config C.yaml
                                   [--btagging B.json] --out-dir DIR
python -m deeppp.report comparison --metrics M.json... --reference atlas_reference.yaml
                                   --pileup-mu MU [--btagging B.json] --out-dir DIR
python -m deeppp.report table      {ml,firmware} --csv summary.csv --out table.html
python -m deeppp.report config     --config C.yaml --out config.html
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import yaml

from deeppp import DeepppError
from deeppp.cli import OneLineArgumentParser

PROG = "python -m deeppp.report"
log = logging.getLogger(__name__)


def _read_config(path: Path) -> tuple[dict, str]:
    """The configuration (validated, schema defaults filled in) and its text as written."""
    from deeppp.config import validate_config

    try:
        text = path.read_text()
        config = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as err:
        raise DeepppError(f"{path}: cannot read the configuration ({err})") from err
    if not isinstance(config, dict):
        raise DeepppError(f"{path}: not a configuration mapping")
    return validate_config(config, source=str(path)), text


def _overview(args: argparse.Namespace) -> None:
    from deeppp.report import results
    from deeppp.report.overview import build_overview, write_overview

    config, text = _read_config(args.config)
    models = [results.read_model_quality(p) for p in args.metrics]
    firmware = [results.read_firmware_cost(p) for p in args.firmware]
    splits = {Path(p).stem: p for p in args.datasets}
    generated = {
        process: int(spec["chunks"]) * int(spec["events_per_chunk"])
        for process, spec in ((config.get("generation") or {}).get("processes") or {}).items()
    }
    samples = results.read_sample_sizes(splits, generated)
    scores = results.read_test_scores(args.scores) if args.scores else None
    report_config = config["report"]
    overview = build_overview(
        models,
        firmware,
        samples,
        scores,
        btagging=results.read_btagging(args.btagging),
        config=config,
        config_digest=results.config_digest(text),
        n_bootstrap=int(report_config["bootstrap_samples"]),
        level=float(report_config["confidence_level"]),
    )
    write_overview(overview, args.out_dir)
    log.info("overview: %d models, %d paired comparisons", len(models), len(overview.paired))


def _comparison(args: argparse.Namespace) -> None:
    from deeppp.report import results
    from deeppp.report.comparison import build_comparison

    rows = build_comparison(
        args.metrics,
        args.reference,
        args.out_dir,
        args.pileup_mu,
        results.read_btagging(args.btagging),
    )
    log.info("comparison: %d rows -> %s", len(rows), args.out_dir)


def _table(args: argparse.Namespace) -> None:
    from deeppp.report.tables import write_firmware_table, write_ml_table

    writer = write_ml_table if args.stage == "ml" else write_firmware_table
    writer(args.csv, args.out)


def _config(args: argparse.Namespace) -> None:
    """The page and (with --copy-to) the YAML file: both or neither."""
    from deeppp.atomic import atomic_outputs
    from deeppp.report.results import config_digest
    from deeppp.report.tables import config_page

    _, text = _read_config(args.config)
    page = config_page(text, config_digest(text))
    outputs = [args.out] if args.copy_to is None else [args.copy_to, args.out]
    with atomic_outputs(outputs) as temps:
        if args.copy_to is not None:
            temps[0].write_text(text)
        temps[-1].write_text(page)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    overview = sub.add_parser("overview", help="the overview page: headline numbers, conclusion")
    overview.add_argument("--metrics", nargs="+", type=Path, required=True, help="metrics.json")
    overview.add_argument("--firmware", nargs="*", type=Path, default=[], help="report.json")
    overview.add_argument(
        "--scores", type=Path, default=None, help="ml/test_scores.root (paired comparisons)"
    )
    overview.add_argument("--datasets", nargs="+", type=Path, required=True, help="split files")
    overview.add_argument("--config", type=Path, required=True, help="the validated config")
    overview.add_argument("--btagging", type=Path, default=None, help="b-tagging JSON (optional)")
    overview.add_argument("--out-dir", type=Path, required=True)
    overview.set_defaults(run=_overview)

    comparison = sub.add_parser("comparison", help="deeppp beside published figures")
    comparison.add_argument("--metrics", nargs="+", type=Path, required=True, help="metrics.json")
    comparison.add_argument("--reference", type=Path, default=Path("report/atlas_reference.yaml"))
    comparison.add_argument(
        "--pileup-mu", type=float, required=True, help="the run's reconstruction.pileup.mu"
    )
    comparison.add_argument(
        "--btagging", type=Path, default=None, help="reconstruction/btagging.json (optional)"
    )
    comparison.add_argument("--out-dir", type=Path, required=True)
    comparison.set_defaults(run=_comparison)

    table = sub.add_parser("table", help="a stage's summary CSV as an HTML page")
    table.add_argument("stage", choices=("ml", "firmware"))
    table.add_argument("--csv", type=Path, required=True)
    table.add_argument("--out", type=Path, required=True)
    table.set_defaults(run=_table)

    config = sub.add_parser("config", help="the configuration as highlighted YAML")
    config.add_argument("--config", type=Path, required=True)
    config.add_argument("--copy-to", type=Path, default=None, help="also copy the YAML here")
    config.add_argument("--out", type=Path, required=True)
    config.set_defaults(run=_config)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    args.run(args)
    return 0
