"""hls4ml path: HLS project, bit-accurate C++ emulation and (where installed) vendor synthesis.

The network is converted from PyTorch with ``config_from_pytorch_model`` (per-layer granularity)
and ``convert_from_pytorch_model``. Precisions follow :mod:`firmware.fixed_point`: inputs,
weights and biases ``fixed<W,I>``, exact accumulators (hls4ml's ``auto``), ReLU outputs
``ufixed<W-1,I-1,TRN,SAT>`` (the non-negative half of ``fixed<W,I>``) and the output logit
``fixed<W,I,TRN,SAT>``. The weights handed to hls4ml are already on the grid, so its own
quantisation is the identity and ``.predict()`` equals the numpy reference bit by bit.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from firmware.fixed_point import QuantisedNetwork
from firmware.report_values import figure, skipped
from firmware.settings import FirmwareSettings

PROJECT_NAME = "tagger"

#: Command-line tools that run the vendor flow hls4ml 1.3 drives, per backend (its Vitis backend
#: calls ``vitis-run --mode hls``, i.e. Vitis 2024.1 or later; ``vitis_hls`` alone is not enough).
VENDOR_TOOLS = {"Vitis": ("vitis-run",), "Vivado": ("vivado_hls",)}


def quantised_sequential(qnet: QuantisedNetwork) -> nn.Sequential:
    """Plain ``Linear[, ReLU]`` torch network holding the on-grid weights (float32-exact for W <= 20)."""
    modules: list[nn.Module] = []
    for weight, bias, relu in qnet.float_layers():
        linear = nn.Linear(weight.shape[0], weight.shape[1])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight.T.copy()))
            linear.bias.copy_(torch.from_numpy(bias.copy()))
        modules.append(linear)
        if relu:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules).eval()


def hls_config(
    sequential: nn.Sequential, qnet: QuantisedNetwork, settings: FirmwareSettings
) -> dict[str, Any]:
    """hls4ml configuration with the precisions of :mod:`firmware.fixed_point`, per layer."""
    import hls4ml

    fmt = qnet.fmt
    n_inputs = qnet.layers[0].weight_int.shape[0]
    config = hls4ml.utils.config_from_pytorch_model(
        sequential,
        (n_inputs,),
        granularity="name",
        backend=settings.hls4ml.backend,
        default_precision=fmt.hls_type(),
        default_reuse_factor=settings.hls4ml.reuse_factor,
    )
    config["Model"]["Strategy"] = settings.hls4ml.strategy
    layer_names = {f"_{index}": module for index, module in enumerate(sequential)}
    last_linear = max(
        index for index, module in enumerate(sequential) if isinstance(module, nn.Linear)
    )
    for name, layer_config in config["LayerName"].items():
        precision = layer_config.setdefault("Precision", {})
        module = layer_names.get(name)
        if module is None:  # the input layer
            precision["result"] = fmt.hls_type()
        elif isinstance(module, nn.Linear):
            precision["weight"] = fmt.hls_type()
            precision["bias"] = fmt.hls_type()
            precision["accum"] = "auto"  # hls4ml infers a width that cannot overflow
            precision["result"] = fmt.hls_type() if name == f"_{last_linear}" else "auto"
        elif isinstance(module, nn.ReLU):
            precision["result"] = fmt.hls_type(unsigned=True)
        layer_config["ReuseFactor"] = settings.hls4ml.reuse_factor
    return config


def build_hls_project(
    qnet: QuantisedNetwork,
    settings: FirmwareSettings,
    output_dir: Path,
    log: io.TextIOBase | None = None,
) -> Any:
    """Write the HLS project to ``output_dir`` and compile its C++ emulation library (g++ only)."""
    import hls4ml

    sequential = quantised_sequential(qnet)
    config = hls_config(sequential, qnet, settings)
    sink = log if log is not None else io.StringIO()
    with contextlib.redirect_stdout(sink):  # hls4ml prints its topology walk
        model = hls4ml.converters.convert_from_pytorch_model(
            sequential,
            hls_config=config,
            output_dir=str(output_dir),
            project_name=PROJECT_NAME,
            backend=settings.hls4ml.backend,
            io_type=settings.hls4ml.io_type,
            part=settings.hls4ml.part,
            clock_period=settings.clock_period_ns,
        )
        model.compile()
    return model


def make_project_reproducible(hls_dir: Path, output_dir_text: str, stamp: str) -> None:
    """Make the written HLS project a function of the model alone (same model, same bytes).

    hls4ml stamps the project with a random id, records the (temporary) directory it wrote to,
    and pickles the PyTorch model with memory-address storage keys into hls4ml_config.yml; the
    compiled emulation library is a build artefact named after the random stamp. The stamp
    becomes a digest of the model, the directory the final one, the pickled model a pointer to
    model.pt, and the library is removed (``build_lib.sh`` rebuilds it).
    """
    config_path = hls_dir / "hls4ml_config.yml"
    old_stamp = None
    kept: list[str] = []
    skipping = False
    for line in config_path.read_text().splitlines():
        if skipping and line[:1] not in (" ", "-", ""):
            skipping = False
        if skipping:
            continue
        if line.startswith("PytorchModel:"):
            kept.append(
                "PytorchModel: null  # the network: model.pt given to `python -m firmware build`"
            )
            skipping = True
        elif line.startswith("Stamp:"):
            old_stamp = line.split(":", 1)[1].strip()
            kept.append(f"Stamp: {stamp}")
        elif line.startswith("OutputDir:"):
            kept.append(f"OutputDir: {output_dir_text}")
        else:
            kept.append(line)
    config_path.write_text("\n".join(kept) + "\n")
    build_lib = hls_dir / "build_lib.sh"
    if old_stamp and build_lib.is_file():
        build_lib.write_text(
            build_lib.read_text().replace(f"LIB_STAMP={old_stamp}", f"LIB_STAMP={stamp}")
        )
    for library in (hls_dir / "firmware").glob("*.so"):
        library.unlink()


def emulate(model: Any, x_on_grid: np.ndarray) -> np.ndarray:
    """Logits from hls4ml's compiled C++ (``.predict``), shape (n_jets, n_outputs)."""
    x = np.ascontiguousarray(x_on_grid, dtype=np.float64)
    return np.asarray(model.predict(x), dtype=np.float64).reshape(len(x), -1)


def find_vendor_tool(backend: str) -> str | None:
    for tool in VENDOR_TOOLS.get(backend, ()):
        if shutil.which(tool):
            return tool
    return None


def vendor_synthesis(
    model: Any, settings: FirmwareSettings, log: io.TextIOBase | None = None
) -> dict[str, Any]:
    """C synthesis (+ Vivado logic synthesis when ``vivado`` exists) and hls4ml's report readers.

    Returns the figures, each with the tool that produced it, or ``skipped`` entries saying why.
    """
    from deeppp import DeepppError

    backend = settings.hls4ml.backend
    switch = settings.hls4ml.vendor_synthesis
    tool = find_vendor_tool(backend)
    if switch == "off":
        return {"skipped": "firmware.hls4ml.vendor_synthesis is off"}
    if tool is None:
        wanted = "/".join(VENDOR_TOOLS.get(backend, ()))
        if switch == "on":
            raise DeepppError(f"firmware.hls4ml.vendor_synthesis is on but {wanted} is not on PATH")
        return {"skipped": f"{wanted} not on PATH (vendor tools are not installed here)"}
    import hls4ml

    run_vivado = shutil.which("vivado") is not None
    sink = log if log is not None else io.StringIO()
    with contextlib.redirect_stdout(sink):
        try:
            model.build(csim=False, synth=True, vsynth=run_vivado)
        except Exception as err:  # hls4ml raises plain Exception for tool failures
            raise DeepppError(f"vendor synthesis with {tool} failed: {err}") from err
        report = hls4ml.report.parse_vivado_report(str(model.config.get_output_dir()))
    hls_tool = "vitis" if backend == "Vitis" else "vivado"
    out: dict[str, Any] = {"tool_binary": tool}
    csynth = report.get("CSynthesisReport", {}) if report else {}
    if csynth:
        out["latency_cycles"] = figure(_number(csynth.get("WorstLatency")), hls_tool)
        out["initiation_interval"] = figure(_number(csynth.get("IntervalMax")), hls_tool)
        out["estimated_clock_period_ns"] = figure(
            _number(csynth.get("EstimatedClockPeriod")), hls_tool
        )
        for key, name in (("LUT", "lut"), ("FF", "ff"), ("DSP", "dsp"), ("BRAM_18K", "bram_18k")):
            out[f"hls_{name}"] = figure(_number(csynth.get(key)), hls_tool)
        if out["latency_cycles"]["value"] is not None:
            out["latency_ns"] = figure(
                out["latency_cycles"]["value"] * settings.clock_period_ns, hls_tool
            )
    else:
        out["latency_cycles"] = skipped(f"{tool} ran but wrote no C-synthesis report")
    vivado = report.get("VivadoSynthReport", {}) if report else {}
    if vivado:
        for key, name in (
            ("LUT", "lut"),
            ("FF", "ff"),
            ("DSP48E", "dsp"),
            ("BRAM_18K", "bram_18k"),
        ):
            out[name] = figure(_number(vivado.get(key)), "vivado")
    else:
        reason = (
            "vivado not on PATH" if not run_vivado else "vivado ran but wrote no utilisation report"
        )
        for name in ("lut", "ff", "dsp", "bram_18k"):
            out[name] = skipped(reason)
    return out


def _number(text: Any) -> float | None:
    if text is None:
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return int(value) if value.is_integer() else value
