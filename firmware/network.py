"""The dense network the firmware implements, read from a torch ``nn.Sequential``.

Only what an FPGA latency design of the tagger needs is supported: ``Linear`` layers, each
optionally followed by ``ReLU`` (``Identity``/``Flatten`` of a 2-D batch are no-ops and skipped).
Anything else (``Tanh``, ``BatchNorm1d``, ``Dropout`` in a trained model ...) is refused with
an error that names the layer, instead of being silently mistranslated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from deeppp import DeepppError
from deeppp.contracts import multiplications


class UnsupportedLayerError(DeepppError):
    """The network contains a layer the firmware path cannot implement; names the layer."""


@dataclass(frozen=True)
class DenseLayer:
    """``y = x @ weight + bias`` (weight is (n_in, n_out), i.e. torch's transposed), then ReLU if
    set."""

    weight: np.ndarray
    bias: np.ndarray
    relu: bool


@dataclass(frozen=True)
class DenseNetwork:
    layers: tuple[DenseLayer, ...]

    @property
    def layout(self) -> list[int]:
        return [self.layers[0].weight.shape[0]] + [layer.weight.shape[1] for layer in self.layers]

    @property
    def n_inputs(self) -> int:
        return self.layout[0]

    @property
    def hidden_nodes(self) -> int:
        return int(sum(self.layout[1:-1]))

    @property
    def multiplications(self) -> int:
        """FPGA cost measure of the ml stage: sum over layers of n_in x n_out."""
        return int(multiplications(self.layout))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Float64 forward pass (output = logit), the reference the fixed-point versions
        approximate."""
        out = np.asarray(x, dtype=np.float64)
        for layer in self.layers:
            out = out @ layer.weight + layer.bias
            if layer.relu:
                out = np.maximum(out, 0.0)
        return out


def dense_network(sequential: nn.Module) -> DenseNetwork:
    """Extract the Linear/ReLU stack; raise :class:`UnsupportedLayerError` naming any other
    layer."""
    modules = list(sequential.children()) if isinstance(sequential, nn.Sequential) else [sequential]
    layers: list[DenseLayer] = []
    for index, module in enumerate(modules):
        if isinstance(module, nn.Linear):
            weight = module.weight.detach().cpu().double().numpy().T.copy()
            if module.bias is not None:
                bias = module.bias.detach().cpu().double().numpy().copy()
            else:
                bias = np.zeros(module.out_features)
            if layers and layers[-1].weight.shape[1] != weight.shape[0]:
                raise UnsupportedLayerError(
                    f"layer {index} (Linear {weight.shape[0]} -> {weight.shape[1]}) does not chain "
                    f"onto the previous layer's {layers[-1].weight.shape[1]} outputs"
                )
            layers.append(DenseLayer(weight, bias, relu=False))
        elif isinstance(module, nn.ReLU):
            if not layers or layers[-1].relu:
                raise UnsupportedLayerError(
                    f"layer {index} (ReLU) must follow a Linear layer; "
                    "firmware supports Linear[+ReLU] stacks"
                )
            last = layers[-1]
            layers[-1] = DenseLayer(last.weight, last.bias, relu=True)
        elif isinstance(module, nn.Identity | nn.Flatten):
            continue
        else:
            raise UnsupportedLayerError(
                f"layer {index} ({type(module).__name__}) is not supported: the firmware path "
                "implements Linear and ReLU layers only"
            )
    if not layers:
        raise UnsupportedLayerError("network has no Linear layer")
    return DenseNetwork(tuple(layers))
