"""``python -m generation``: generate one chunk of signal or background events."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from deeppp.atomic import refuse_overwriting_inputs
from deeppp.cli import OneLineArgumentParser, run_cli
from deeppp.config import load_config, validate_config
from generation.generate import generate_chunk
from generation.settings import PROCESSES, chunk_seed

logger = logging.getLogger(__name__)

PROG = "python -m generation"


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(
        prog=PROG,
        description=(
            "Generate pp collisions at 14 TeV with Pythia 8 (signal: g b -> H b, H -> b bbar; "
            "background: QCD 2->2) and write final-state particles plus truth to a ROOT file."
        ),
        epilog=(
            "Without --events/--seed, the number of events and the seed come from the config: "
            "generation.processes.<process>.events_per_chunk and a seed derived from "
            "(seed, process, chunk). Example: python -m generation --process signal --events 1000 "
            "--seed 7 --out results/events/signal/000.root"
        ),
    )
    parser.add_argument("--process", required=True, choices=PROCESSES)
    parser.add_argument("--out", required=True, type=Path, help="output ROOT file")
    parser.add_argument("--config", type=Path, help="deeppp YAML config (default: schema defaults)")
    parser.add_argument("--events", type=int, help="number of events to generate (> 0)")
    parser.add_argument(
        "--seed", type=int, help="Pythia seed, 1..900000000 (default: derived from config)"
    )
    parser.add_argument(
        "--chunk", type=int, default=0, help="chunk index, used to derive the seed (default 0)"
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="'Key = value'",
        help="extra raw Pythia setting, repeatable (appended after the config's)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = (
        load_config(args.config) if args.config else validate_config({"seed": 0}, source="defaults")
    )
    if args.chunk < 0:
        parser.error(f"--chunk must be >= 0, got {args.chunk}")
    refuse_overwriting_inputs(args.out, [args.config])
    n_events = args.events
    if n_events is None:
        processes = config["generation"]["processes"]
        if args.process not in processes:
            parser.error(f"process {args.process!r} is not configured; pass --events")
        n_events = processes[args.process]["events_per_chunk"]
    if n_events <= 0:
        parser.error(f"--events must be positive, got {n_events}")
    seed = (
        args.seed if args.seed is not None else chunk_seed(config["seed"], args.process, args.chunk)
    )
    generation_config = dict(config["generation"])
    if args.setting:
        extra = dict(generation_config.get("extra_settings", {}))
        extra[args.process] = [*extra.get(args.process, []), *args.setting]
        generation_config["extra_settings"] = extra
    summary = generate_chunk(
        args.process,
        n_events,
        seed,
        args.out,
        generation_config,
        chunk=args.chunk,
        # only what determines this file: other stages' settings must not change its bytes
        full_config={"seed": config["seed"], "generation": generation_config},
        progress=not args.no_progress,
    )
    logger.info(
        f"{summary.process}: {summary.n_events} events -> {summary.path} "
        f"(sigma = {summary.sigma_gen_mb:.3e} +- {summary.sigma_err_mb:.1e} mb"
        + (
            f", c g -> H c vetoed: {summary.n_vetoed} = {100 * summary.vetoed_fraction:.1f} %"
            if summary.process == "signal"
            else ""
        )
        + ")"
    )
    return 0


def entry_point() -> None:
    # The job logs get this stage's summary lines (and the library's INFO messages) as plain text.
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    sys.exit(run_cli(main, PROG))
