"""``python -m reconstruction``: run a chunk, merge chunks into datasets, make plots."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from deeppp.atomic import refuse_overwriting_inputs, write_text_atomic
from deeppp.cli import OneLineArgumentParser, run_cli
from deeppp.config import load_config, validate_config
from deeppp.contracts import PROCESS_LABEL

logger = logging.getLogger(__name__)

PROG = "python -m reconstruction"


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(
        prog=PROG,
        description=(
            "ATLAS-like fast detector simulation, trimmed large-R jets, "
            "ghost-associated variable-R track jets and the 39 H->bb tagging features."
        ),
        epilog=(
            "Example: python -m reconstruction run --events results/events/signal/000.root "
            "--out results/features/signal/000.root --process signal --chunk 0 "
            "--config config/default.yaml"
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)

    run = sub.add_parser(
        "run",
        help="reconstruct one events file into a features file",
        description="Detector simulation, jets, labels and features of one chunk.",
    )
    run.add_argument(
        "--events", required=True, type=Path, help="input events ROOT file (generation contract)"
    )
    run.add_argument("--out", required=True, type=Path, help="output features ROOT file")
    run.add_argument("--process", required=True, choices=sorted(PROCESS_LABEL))
    run.add_argument(
        "--chunk",
        type=int,
        default=0,
        help="chunk index (seeds the detector simulation; default 0)",
    )
    run.add_argument(
        "--config", type=Path, help="deeppp YAML config (default: schema defaults, seed 0)"
    )
    run.add_argument(
        "--pileup-library",
        type=Path,
        help=(
            "min-bias events file for the pile-up overlay "
            "(needed when reconstruction.pileup.mu > 0)"
        ),
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")

    merge = sub.add_parser(
        "merge",
        help="merge features files into train/val/test datasets",
        description="Deterministic split by (process, chunk, event) and pT/eta training weights.",
    )
    merge.add_argument(
        "--features", required=True, nargs="+", type=Path, help="features ROOT files"
    )
    merge.add_argument(
        "--out-dir", required=True, type=Path, help="directory for train.root, val.root, test.root"
    )
    merge.add_argument(
        "--config", type=Path, help="deeppp YAML config (default: schema defaults, seed 0)"
    )

    plots = sub.add_parser(
        "plots",
        help="feature, mass and b-tagging plots (PNG)",
        description="Signal vs background features, trimmed mass, track-jet tagging plots.",
    )
    plots.add_argument(
        "--features", required=True, nargs="+", type=Path, help="features ROOT files"
    )
    plots.add_argument("--out-dir", required=True, type=Path, help="directory for the PNG files")

    calibrate = sub.add_parser(
        "calibrate",
        help="derive the large-R jet energy and mass scales of the detector card",
        description=(
            "Median pT and mass responses of calorimeter large-R jets to particle-level jets."
        ),
    )
    calibrate.add_argument(
        "--events", required=True, nargs="+", type=Path, help="QCD events ROOT files"
    )
    calibrate.add_argument(
        "--signal-events",
        nargs="+",
        type=Path,
        help=(
            "signal events files: also measure the response of Higgs jets (not used for the scale)"
        ),
    )
    calibrate.add_argument(
        "--pileup-library", type=Path, help="min-bias events file (when the config has mu > 0)"
    )
    calibrate.add_argument("--max-events", type=int, help="use at most this many events")
    calibrate.add_argument(
        "--config", type=Path, help="deeppp YAML config (default: schema defaults, seed 0)"
    )

    doc = sub.add_parser(
        "features-doc", help="write the documented table of the 39 features (Markdown)"
    )
    doc.add_argument("--out", type=Path, default=Path("docs/features.md"))
    return parser


def _config(path: Path | None) -> dict:
    return load_config(path) if path else validate_config({"seed": 0}, source="defaults")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The stage modules (uproot, awkward, the fastjet extension) are imported only now, after the
    # arguments were parsed: --help stays quick and Ctrl-C during start-up is handled by run_cli.
    if args.command == "run":
        from reconstruction.pipeline import reconstruct_chunk

        if args.chunk < 0:
            parser.error(f"--chunk must be >= 0, got {args.chunk}")
        refuse_overwriting_inputs(args.out, [args.events, args.config])
        summary = reconstruct_chunk(
            args.events,
            args.out,
            _config(args.config),
            args.process,
            args.chunk,
            pileup_library=args.pileup_library,
            progress=not args.no_progress,
        )
        logger.info(
            f"{summary.process} chunk {summary.chunk}: {summary.n_events} events, "
            f"{summary.n_large_r_jets} large-R jets, {summary.n_jets} labelled -> {summary.path}"
        )
    elif args.command == "merge":
        from reconstruction.merge import merge_features

        counts = merge_features(args.features, args.out_dir, _config(args.config))
        logger.info(
            "dataset: "
            + ", ".join(f"{k} {v} jets" for k, v in counts.items())
            + f" -> {args.out_dir}"
        )
    elif args.command == "plots":
        from reconstruction.plots import make_plots  # matplotlib only when plotting

        written = make_plots(args.features, args.out_dir)
        logger.info(f"{len(written)} plots -> {args.out_dir}")
    elif args.command == "calibrate":
        from reconstruction.calibration import derive_calibration

        if args.max_events is not None and args.max_events < 1:
            parser.error(f"--max-events must be positive, got {args.max_events}")
        config = _config(args.config)
        result = derive_calibration(
            args.events, config, args.max_events, pileup_library=args.pileup_library
        )
        print(
            f"QCD large-R jets: pT response {result.pt_response:.4f} "
            f"+- {result.pt_response_error:.4f} "
            f"({result.n_matched_jets} matched jets), mass response {result.mass_response:.4f} "
            f"+- {result.mass_response_error:.4f} ({result.n_mass_jets} jets)\n"
            f"jet_calibration: {{large_r_energy_scale: {result.energy_scale:.3f}, "
            f"large_r_mass_scale: {result.mass_scale:.3f}}}"
        )
        if args.signal_events:
            higgs = derive_calibration(
                args.signal_events,
                config,
                args.max_events,
                pileup_library=args.pileup_library,
                higgs_jets=True,
            )
            print(
                f"Higgs jets (not used for the scale): pT response {higgs.pt_response:.4f} "
                f"+- {higgs.pt_response_error:.4f} ({higgs.n_matched_jets} jets), mass response "
                f"{higgs.mass_response:.4f} +- {higgs.mass_response_error:.4f} "
                f"({higgs.n_mass_jets} jets); after the QCD scales: pT "
                f"{higgs.pt_response * result.energy_scale:.4f}, mass "
                f"{higgs.mass_response * result.mass_scale:.4f}; most probable calibrated "
                f"trimmed mass {higgs.raw_mass_peak_gev * result.mass_scale:.1f} GeV"
            )
    elif args.command == "features-doc":
        from reconstruction.features import feature_table_markdown

        write_text_atomic(args.out, feature_table_markdown())
    return 0


def entry_point() -> None:
    # The job logs get this stage's summary lines (and the library's INFO messages) as plain text.
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    sys.exit(run_cli(main, PROG))
