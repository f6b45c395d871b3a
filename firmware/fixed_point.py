"""The bit-accurate fixed-point tagger, as a numpy integer reference, and the precision scan.

One format ``ap_fixed<W, I>`` (W total bits, I integer bits including the sign, F = W - I
fractional bits) is used for every stored quantity, the hls4ml idiom of a single model precision:

* inputs (standardised features): truncated to the grid and saturated (``AP_TRN``, ``AP_SAT``);
  the trigger hands them to the FPGA already in this format;
* weights and biases: rounded to the nearest grid value and saturated (done once, offline);
* each Linear layer: products and sums exact (accumulators wide enough never to overflow);
* each ReLU output: truncated to F fractional bits and saturated at 2^(I-1) - 2^-F;
* the network output is the **raw logit**, truncated and saturated to ``ap_fixed<W, I>``.

The final sigmoid is not put into the firmware: it is monotonic, so a cut on the logit selects
exactly the same jets as a cut on sigmoid(logit), and ROC, AUC and rejections are unchanged; a
lookup table would only cost LUTs. hls4ml emulation, the da4ml emulator and the Verilator
simulation of the da4ml RTL all implement this arithmetic; every build checks that they agree bit
by bit on every test jet and stops at the first mismatch (:mod:`firmware.checks`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware.network import DenseNetwork


@dataclass(frozen=True, order=True)
class FixedFormat:
    """``ap_fixed<total_bits, integer_bits>``; integer bits include the sign bit."""

    total_bits: int
    integer_bits: int

    def __post_init__(self) -> None:
        if not 1 <= self.integer_bits < self.total_bits:
            raise ValueError(f"need 1 <= integer_bits < total_bits, got {self}")

    @property
    def fractional_bits(self) -> int:
        return self.total_bits - self.integer_bits

    @property
    def step(self) -> float:
        return 2.0**-self.fractional_bits

    @property
    def max_int(self) -> int:
        """Largest representable value in units of :attr:`step`."""
        return 2 ** (self.total_bits - 1) - 1

    @property
    def min_int(self) -> int:
        return -(2 ** (self.total_bits - 1))

    def hls_type(self, *, unsigned: bool = False, saturate: bool = True) -> str:
        """hls4ml precision string; ``unsigned`` gives the same range/grid without the sign bit."""
        w, i = (
            (self.total_bits - 1, self.integer_bits - 1)
            if unsigned
            else (self.total_bits, self.integer_bits)
        )
        kind = "ufixed" if unsigned else "fixed"
        return f"{kind}<{w},{i},TRN,{'SAT' if saturate else 'WRAP'}>"

    def __str__(self) -> str:
        return f"ap_fixed<{self.total_bits},{self.integer_bits}>"

    def to_dict(self) -> dict[str, int | str]:
        return {"total_bits": self.total_bits, "integer_bits": self.integer_bits, "type": str(self)}


def round_to_grid(values: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Integers (units of ``fmt.step``) nearest to ``values``, saturated: for weights and biases."""
    scaled = np.rint(np.asarray(values, dtype=np.float64) / fmt.step)
    return np.clip(scaled, fmt.min_int, fmt.max_int).astype(np.int64)


def truncate_to_grid(values: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Integers (units of ``fmt.step``) below ``values``, saturated: ``AP_TRN, AP_SAT`` of a
    float."""
    scaled = np.floor(np.asarray(values, dtype=np.float64) / fmt.step)
    return np.clip(scaled, fmt.min_int, fmt.max_int).astype(np.int64)


@dataclass(frozen=True)
class QuantisedLayer:
    weight_int: np.ndarray  # (n_in, n_out), units of fmt.step
    bias_int: np.ndarray  # (n_out,), units of fmt.step
    relu: bool


@dataclass(frozen=True)
class QuantisedNetwork:
    """A :class:`DenseNetwork` with weights and biases on the ``fmt`` grid."""

    fmt: FixedFormat
    layers: tuple[QuantisedLayer, ...]

    @classmethod
    def from_network(cls, network: DenseNetwork, fmt: FixedFormat) -> QuantisedNetwork:
        return cls(
            fmt,
            tuple(
                QuantisedLayer(
                    round_to_grid(layer.weight, fmt), round_to_grid(layer.bias, fmt), layer.relu
                )
                for layer in network.layers
            ),
        )

    def float_layers(self) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        """(weight, bias, relu) with the quantised values as floats (exact for <= 52-bit grids)."""
        step = self.fmt.step
        return [
            (layer.weight_int * step, layer.bias_int * step, layer.relu) for layer in self.layers
        ]

    @property
    def nonzero_weights(self) -> int:
        """Weights that survive quantisation: the multiplications the RTL actually implements."""
        return int(sum(np.count_nonzero(layer.weight_int) for layer in self.layers))

    def quantise_inputs(self, x: np.ndarray) -> np.ndarray:
        """Standardised features on the input grid, as floats (what the FPGA receives)."""
        return truncate_to_grid(x, self.fmt) * self.fmt.step

    def logits_int(self, x: np.ndarray) -> np.ndarray:
        """Bit-accurate forward pass; returns the output in units of ``fmt.step`` (int64).

        The integer matrix products run as float64 BLAS products of integer-valued arrays: every
        partial sum is an integer below 2^53 (products < 2^(2W-2), W <= 20, fan-in checked
        below), so float64 holds them exactly in any summation order, at BLAS speed.
        """
        f = self.fmt.fractional_bits
        scale = float(2**f)
        act = truncate_to_grid(x, self.fmt).astype(np.float64)
        for layer in self.layers:
            fan_in = layer.weight_int.shape[0] + 1
            if fan_in * 2.0 ** (2 * self.fmt.total_bits - 2) >= 2.0**53:
                raise ValueError(
                    f"{self.fmt} with fan-in {fan_in - 1} exceeds exact float64 accumulation"
                )
            acc = (
                act @ layer.weight_int.astype(np.float64) + layer.bias_int * scale
            )  # units of step^2
            act = np.floor(acc / scale)  # AP_TRN: floor, exact (power-of-two division)
            if layer.relu:
                act = np.minimum(np.maximum(act, 0.0), self.fmt.max_int)
            else:
                act = np.clip(act, self.fmt.min_int, self.fmt.max_int)
        return act.astype(np.int64)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Output logits as floats, shape (n_jets, n_outputs)."""
        return self.logits_int(x) * self.fmt.step
