"""The gated tagger: a dense ReLU network with AutoPruner gate layers, and its extraction.

A gate layer multiplies each node by ``sigmoid(w_i)`` (``g_i = x_i * sigmoid(w_i)``). It can sit
after the inputs (feature selection) and after every hidden layer's ReLU (node pruning); all
hidden layers share one :class:`Gate` with one logit per node, split per layer, because they form
one pruning group. Once the pruner has decided, the gates are *frozen*: rejected nodes get
exactly 0, kept nodes keep their gate value, and :func:`extract_sequential` folds those values
into the next layer's weights, so the firmware sees a plain, smaller ``nn.Sequential`` computing
the same function.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ml.model_io import build_sequential


class Gate(nn.Module):
    """Gate values ``sigmoid(w)`` for one or several layers (``sizes``); after :meth:`freeze`,
    fixed values (0 = pruned)."""

    frozen_values: torch.Tensor  # a registered buffer (moves with .to(), saved with the state)

    def __init__(self, sizes: Sequence[int], initial_value: float) -> None:
        super().__init__()
        if not 0.0 < initial_value < 1.0:
            raise ValueError("initial gate value must be inside (0, 1)")
        self.sizes = tuple(int(n) for n in sizes)
        logit = math.log(initial_value / (1.0 - initial_value))
        self.logits = nn.Parameter(torch.full((sum(self.sizes),), logit))
        self.register_buffer("frozen_values", torch.ones(sum(self.sizes)))
        self.frozen = False

    @property
    def n_nodes(self) -> int:
        return int(self.logits.numel())

    def values(self) -> torch.Tensor:
        """Current gate values in [0, 1], all layers concatenated."""
        return self.frozen_values if self.frozen else torch.sigmoid(self.logits)

    def reference_values(self) -> torch.Tensor:
        """Deterministic gate values (the same as :meth:`values` for this gate)."""
        return self.values()

    def layer_values(self) -> tuple[torch.Tensor, ...]:
        return torch.split(self.reference_values(), list(self.sizes))

    def freeze(self, values: torch.Tensor) -> None:
        """Fix the gate values (0 for rejected nodes); the logits stop training."""
        with torch.no_grad():
            self.frozen_values.copy_(values.to(self.frozen_values))
        self.frozen = True
        self.logits.requires_grad_(False)

    def kept(self) -> torch.Tensor:
        """Boolean mask of nodes whose gate is not exactly zero (all layers)."""
        return self.values().detach() > 0

    def kept_per_layer(self) -> tuple[torch.Tensor, ...]:
        return torch.split(self.kept(), list(self.sizes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x * g`` for a single-layer gate (the tagger itself folds gates into the weights)."""
        return x * self.values()


class HardConcreteGate(Gate):
    """L0 gate of Louizos, Welling & Kingma, "Learning Sparse Neural Networks through L0
    Regularization" (ICLR 2018): a stretched, clipped binary-concrete variable per node.

    Training: ``u ~ U(0, 1)``, ``s = sigmoid((log u - log(1 - u) + log_alpha) / beta)``,
    ``z = clip(s * (zeta - gamma) + gamma, 0, 1)``, one sample per mini-batch (their eq. 10 with
    the per-batch sampling they use for speed). Evaluation: the deterministic
    ``clip(sigmoid(log_alpha) * (zeta - gamma) + gamma, 0, 1)``. ``P(z != 0)`` has a closed form
    (:meth:`keep_probability`), whose sum is the expected L0 norm the budget penalty acts on.
    The parameter ``log_alpha`` is stored in ``logits`` so the gate plugs into the same network.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        keep_probability: float,
        temperature: float,
        stretch: tuple[float, float],
        generator: torch.Generator,
    ) -> None:
        super().__init__(sizes, 0.5)
        self.temperature = float(temperature)
        self.low, self.high = (float(v) for v in stretch)
        # log_alpha giving P(z != 0) = keep_probability at the start.
        shift = self.temperature * math.log(-self.low / self.high)
        with torch.no_grad():
            self.logits.fill_(math.log(keep_probability / (1.0 - keep_probability)) + shift)
        self.generator = generator

    def keep_probability(self) -> torch.Tensor:
        """``P(z_i != 0) = sigmoid(log_alpha - beta * log(-gamma / zeta))`` per node."""
        return torch.sigmoid(self.logits - self.temperature * math.log(-self.low / self.high))

    def reference_values(self) -> torch.Tensor:
        return self.frozen_values if self.frozen else self.deterministic()

    def deterministic(self) -> torch.Tensor:
        stretched = torch.sigmoid(self.logits) * (self.high - self.low) + self.low
        return stretched.clamp(0.0, 1.0)

    def values(self) -> torch.Tensor:
        if self.frozen:
            return self.frozen_values
        if not self.training:
            return self.deterministic()
        u = torch.rand(self.n_nodes, generator=self.generator).to(self.logits.device)
        u = u.clamp(1e-6, 1.0 - 1e-6)
        s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + self.logits) / self.temperature)
        return (s * (self.high - self.low) + self.low).clamp(0.0, 1.0)


GateFactory = Callable[[Sequence[int]], Gate]


class GatedTagger(nn.Module):
    """IL(n_in) + hidden ReLU layers + OL(1) with optional gates after the input and hidden layers.

    The forward pass applies each gate to the columns of the following layer's weight matrix,
    ``W @ (g * h) = (W * g) @ h``: the same function, but the multiplication touches a small
    matrix instead of every jet's activations, which keeps AutoPruner epochs nearly as fast as
    plain ones. Without gates it is the plain tagger.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_layout: Sequence[int],
        *,
        input_gate: bool = False,
        hidden_gates: bool = False,
        gate_init: float = 0.9,
        gate_factory: GateFactory | None = None,
    ) -> None:
        super().__init__()
        self.layout = [int(n_inputs), *map(int, hidden_layout), 1]
        self.linears = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(self.layout[:-1], self.layout[1:], strict=True)
        )

        def make(sizes: Sequence[int]) -> Gate:
            return gate_factory(sizes) if gate_factory is not None else Gate(sizes, gate_init)

        self.input_gate = make([n_inputs]) if input_gate else None
        self.hidden_gate = make(hidden_layout) if hidden_gates else None
        self.gates_active = True

    def deactivate_gates(self) -> None:
        """Run as the plain network (warm-up); :meth:`activate_gates` brings the gates back."""
        if self.gates_active and any(not g.frozen for g in self.gates):
            self.gates_active = False

    def activate_gates(self) -> None:
        """Switch the gates on without changing the network's function: the weights they
        multiply are divided by the current gate values (all equal to the initial value)."""
        if self.gates_active:
            return
        with torch.no_grad():
            self.gates_active = True
            for layer, gate in zip(
                self.dense_layers, self.column_gates(reference=True), strict=True
            ):
                if gate is not None:
                    layer.weight.div_(gate)

    @property
    def dense_layers(self) -> list[nn.Linear]:
        """The Linear layers, typed (``nn.ModuleList`` iterates as plain ``Module``)."""
        return [layer for layer in self.linears if isinstance(layer, nn.Linear)]

    @property
    def gates(self) -> list[Gate]:
        return [g for g in (self.input_gate, self.hidden_gate) if g is not None]

    def classifier_parameters(self) -> list[nn.Parameter]:
        return [p for layer in self.linears for p in layer.parameters()]

    def gate_parameters(self) -> list[nn.Parameter]:
        return [gate.logits for gate in self.gates]

    def column_gates(self, reference: bool = False) -> list[torch.Tensor | None]:
        """Per Linear layer, the gate values multiplying its input columns (None = no gate).

        ``reference``: the deterministic values (:meth:`Gate.reference_values`) instead of a
        training-time sample of a stochastic gate.
        """
        if not self.gates_active:
            return [None] * len(self.linears)

        def values(gate: Gate) -> torch.Tensor:
            return gate.reference_values() if reference else gate.values()

        hidden = (
            torch.split(values(self.hidden_gate), list(self.hidden_gate.sizes))
            if self.hidden_gate is not None
            else None
        )
        columns: list[torch.Tensor | None] = [
            values(self.input_gate) if self.input_gate is not None else None
        ]
        columns += list(hidden) if hidden is not None else [None] * (len(self.linears) - 1)
        return columns

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_hidden = len(self.linears) - 1
        for i, (layer, gate) in enumerate(zip(self.dense_layers, self.column_gates(), strict=True)):
            weight = layer.weight if gate is None else layer.weight * gate
            x = F.linear(x, weight, layer.bias)
            if i < n_hidden:
                x = torch.relu(x)
        return x.squeeze(-1)

    def kept_inputs(self) -> torch.Tensor:
        if self.input_gate is None:
            return torch.ones(self.layout[0], dtype=torch.bool)
        return self.input_gate.kept().cpu()

    def kept_hidden(self) -> list[torch.Tensor]:
        if self.hidden_gate is None:
            return [torch.ones(n, dtype=torch.bool) for n in self.layout[1:-1]]
        return [m.cpu() for m in self.hidden_gate.kept_per_layer()]

    def pruned_layout(self) -> list[int]:
        """Layer widths after removing nodes whose gates are exactly zero."""
        return [int(self.kept_inputs().sum())] + [int(m.sum()) for m in self.kept_hidden()] + [1]

    @classmethod
    def from_sequential(cls, sequential: nn.Sequential) -> GatedTagger:
        """A gate-free tagger with the weights of a plain Linear/ReLU stack."""
        linears = [m for m in sequential if isinstance(m, nn.Linear)]
        net = cls(linears[0].in_features, [m.out_features for m in linears[:-1]])
        with torch.no_grad():
            for mine, theirs in zip(net.dense_layers, linears, strict=True):
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
        return net


def extract_sequential(net: GatedTagger) -> tuple[nn.Sequential, torch.Tensor]:
    """Fold frozen gate values into the following layer and drop pruned nodes.

    Returns the plain ``nn.Sequential`` and the boolean mask of kept inputs. Exact up to float
    rounding: a pruned node's output is multiplied by 0, so removing its row (and the next
    layer's column) changes nothing, and ``W @ (g * h) = (W * g) @ h`` for the kept ones.
    Gates still training (not frozen) are refused: their soft values are not a pruning decision.
    """
    for gate in net.gates:
        if not gate.frozen:
            raise ValueError("freeze (snap) the gates before extraction")
    kept_in = net.kept_inputs()
    kept_hidden = net.kept_hidden()
    col_masks = [kept_in, *kept_hidden]
    col_values = [
        torch.ones(mask.numel()) if values is None else values.detach().cpu()
        for mask, values in zip(col_masks, net.column_gates(), strict=True)
    ]
    row_masks = [*kept_hidden, torch.ones(1, dtype=torch.bool)]
    layout = [int(kept_in.sum())] + [int(m.sum()) for m in kept_hidden] + [1]
    sequential = build_sequential(layout)
    new_linears = [m for m in sequential if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for old, new, rows, cols, values in zip(
            net.dense_layers, new_linears, row_masks, col_masks, col_values, strict=True
        ):
            weight = old.weight.detach().cpu()[rows][:, cols] * values[cols].unsqueeze(0)
            new.weight.copy_(weight)
            new.bias.copy_(old.bias.detach().cpu()[rows])
    return sequential, kept_in
