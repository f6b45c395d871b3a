"""hls4ml path: HLS project, bit-accurate C++ emulation and (where installed) vendor synthesis.

The network is converted from PyTorch with ``config_from_pytorch_model`` (per-layer granularity)
and ``convert_from_pytorch_model``. Precisions follow :mod:`firmware.fixed_point`: inputs,
weights and biases ``fixed<W,I>``, exact accumulators (hls4ml's ``auto``: it infers a width that
cannot overflow; the inferred types are read back into the report), ReLU outputs
``ufixed<W-1,I-1,TRN,SAT>`` (the non-negative half of ``fixed<W,I>``), and ``fixed<W,I,TRN,SAT>``
for the output of every Linear layer that no ReLU follows (the output logit, and the
intermediate of a Linear -> Linear pair, which the reference also truncates and saturates).
The weights handed to hls4ml are already on the grid, so its own quantisation is the identity
and ``.predict()`` equals the numpy reference bit by bit (checked on every jet by the build).
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

from deeppp import DeepppError
from deeppp.handoffs import Figure
from firmware import vendor_reports
from firmware.fixed_point import QuantisedNetwork
from firmware.settings import FirmwareSettings

PROJECT_NAME = "tagger"

#: Command-line tools that run the vendor flow hls4ml 1.3 drives, per backend (its Vitis backend
#: calls ``vitis-run --mode hls``, i.e. Vitis 2024.1 or later; ``vitis_hls`` alone is not enough).
VENDOR_TOOLS = {"Vitis": ("vitis-run",), "Vivado": ("vivado_hls",)}


def quantised_sequential(qnet: QuantisedNetwork) -> nn.Sequential:
    """Plain ``Linear[, ReLU]`` torch network holding the on-grid weights (float32-exact for
    W <= 20)."""
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
    modules = list(sequential)
    layer_names = {f"_{index}": module for index, module in enumerate(modules)}
    # A Linear whose output feeds a ReLU keeps the exact sum (the ReLU truncates and
    # saturates); any other Linear output is quantised to fmt, as the reference does.
    followed_by_relu = {
        f"_{index}"
        for index, module in enumerate(modules[:-1])
        if isinstance(module, nn.Linear) and isinstance(modules[index + 1], nn.ReLU)
    }
    for name, layer_config in config["LayerName"].items():
        precision = layer_config.setdefault("Precision", {})
        module = layer_names.get(name)
        if module is None:  # the input layer
            precision["result"] = fmt.hls_type()
        elif isinstance(module, nn.Linear):
            precision["weight"] = fmt.hls_type()
            precision["bias"] = fmt.hls_type()
            precision["accum"] = "auto"  # hls4ml infers a width that cannot overflow
            precision["result"] = "auto" if name in followed_by_relu else fmt.hls_type()
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


def layer_precisions(model: Any) -> list[dict[str, Any]]:
    """The precision of every type of every layer as hls4ml resolved it (``auto`` -> width)."""
    out = []
    for layer in model.get_layers():
        types = {
            name.removesuffix("_t"): str(var.precision)
            for name, var in sorted(layer.types.items())
            if name not in ("index_t", "table_t")
        }
        out.append({"layer": layer.name, "class": layer.class_name, "types": types})
    return out


def find_vendor_tool(backend: str) -> str | None:
    for tool in VENDOR_TOOLS.get(backend, ()):
        if shutil.which(tool):
            return tool
    return None


def vendor_synthesis(
    model: Any, settings: FirmwareSettings, log: io.TextIOBase | None = None
) -> dict[str, Any]:
    """C synthesis (+ Vivado logic synthesis when ``vivado`` exists) of the hls4ml project.

    Returns ``{"csynth": figures, "vivado_synth": figures}`` (keys of
    :data:`deeppp.handoffs.RESOURCE_KEYS`, each with its tool) or ``{"skipped": reason}``.
    """
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
    run_vivado = shutil.which("vivado") is not None
    sink = log if log is not None else io.StringIO()
    with contextlib.redirect_stdout(sink):
        try:
            model.build(csim=False, synth=True, vsynth=run_vivado)
        except Exception as err:  # hls4ml raises plain Exception for tool failures
            raise DeepppError(f"vendor synthesis with {tool} failed: {err}") from err
    out = vendor_figures(Path(model.config.get_output_dir()), PROJECT_NAME, backend)
    out["tool_binary"] = tool
    return out


def vendor_figures(hls_dir: Path, project: str, backend: str) -> dict[str, Any]:
    """Figures from the reports a vendor run left in an hls4ml project directory.

    ``csynth``: the HLS estimates of ``<project>_prj/<solution>/syn/report/<project>_csynth.xml``
    (tool ``vitis`` or ``vivado`` by backend); ``vivado_synth``: ``vivado_synth.rpt`` (Vivado
    logic synthesis, tool ``vivado``). A report that is absent is ``skipped`` with the reason.
    """
    hls_tool = "vitis" if backend == "Vitis" else "vivado"
    out: dict[str, Any] = {}
    reports = sorted(hls_dir.glob(f"{project}_prj/*/syn/report/{project}_csynth.xml"))
    if reports:
        csynth = vendor_reports.parse_csynth_xml(reports[0])
        period = csynth["target_clock_period_ns"]
        out["csynth"] = {
            "lut": Figure.of(csynth["lut"], hls_tool).to_json(),
            "ff": Figure.of(csynth["ff"], hls_tool).to_json(),
            "dsp": Figure.of(csynth["dsp"], hls_tool).to_json(),
            "bram_18k": Figure.of(csynth["bram_18k"], hls_tool).to_json(),
            "latency_cycles": Figure.of(csynth["latency_cycles"], hls_tool).to_json(),
            "latency_ns": Figure.of(csynth["latency_cycles"] * period, hls_tool).to_json(),
            "initiation_interval": Figure.of(csynth["initiation_interval"], hls_tool).to_json(),
        }
        out["csynth_clock"] = {
            "target_period_ns": period,
            "estimated_period_ns": csynth["estimated_clock_period_ns"],
            "part": csynth["part"],
            "report": str(reports[0].relative_to(hls_dir)),
        }
    else:
        out["csynth"] = {"skipped": f"no {project}_csynth.xml in the HLS project"}
    synth_report = hls_dir / "vivado_synth.rpt"
    if synth_report.is_file():
        util = vendor_reports.parse_utilisation(synth_report)
        out["vivado_synth"] = {
            key: Figure.of(util.get(key), "vivado").to_json()
            for key in ("lut", "ff", "dsp", "bram_18k")
        }
    else:
        out["vivado_synth"] = {"skipped": "no vivado_synth.rpt (vivado did not run)"}
    return out
