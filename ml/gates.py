"""The gated tagger: a dense ReLU network with AutoPruner gate layers, and its extraction.

A gate layer multiplies each node by ``sigmoid(w_i)`` (``g_i = x_i * sigmoid(w_i)``). It can sit
after the inputs (feature selection) and after every hidden layer's ReLU (node pruning). Once the
pruner has decided, the gates are *frozen*: rejected nodes get exactly 0, kept nodes keep their
gate value, and :func:`extract_sequential` folds those values into the next layer's weights so the
firmware sees a plain, smaller ``nn.Sequential`` computing the same function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ml.model_io import build_sequential


class Gate(nn.Module):
    """``x * sigmoid(w)`` per node; after :meth:`freeze`, ``x * frozen_values`` (0 = pruned)."""

    def __init__(self, n_nodes: int, initial_value: float) -> None:
        super().__init__()
        if not 0.0 < initial_value < 1.0:
            raise ValueError("initial gate value must be inside (0, 1)")
        logit = math.log(initial_value / (1.0 - initial_value))
        self.logits = nn.Parameter(torch.full((n_nodes,), logit))
        self.register_buffer("frozen_values", torch.ones(n_nodes))
        self.register_buffer("is_frozen", torch.zeros((), dtype=torch.bool))

    @property
    def n_nodes(self) -> int:
        return int(self.logits.numel())

    def values(self) -> torch.Tensor:
        """Current gate values in [0, 1]."""
        if bool(self.is_frozen):
            return self.frozen_values
        return torch.sigmoid(self.logits)

    def freeze(self, values: torch.Tensor) -> None:
        """Fix the gate values (0 for rejected nodes); the logits stop training."""
        with torch.no_grad():
            self.frozen_values.copy_(values.to(self.frozen_values))
            self.is_frozen.fill_(True)
        self.logits.requires_grad_(False)

    def kept(self) -> torch.Tensor:
        """Boolean mask of nodes whose gate is not exactly zero."""
        return self.values().detach() > 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.values()


class GatedTagger(nn.Module):
    """IL(n_in) + hidden ReLU layers + OL(1) with optional gates after the input and hidden layers.

    Without gates it is the plain tagger (same parameters and arithmetic as ``nn.Sequential``).
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_layout: Sequence[int],
        *,
        input_gate: bool = False,
        hidden_gates: bool = False,
        gate_init: float = 0.9,
    ) -> None:
        super().__init__()
        self.layout = [int(n_inputs), *map(int, hidden_layout), 1]
        self.linears = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(self.layout[:-1], self.layout[1:], strict=True)
        )
        self.input_gate = Gate(n_inputs, gate_init) if input_gate else None
        self.hidden_gates = (
            nn.ModuleList(Gate(n, gate_init) for n in hidden_layout) if hidden_gates else None
        )

    @property
    def gates(self) -> list[Gate]:
        out: list[Gate] = []
        if self.input_gate is not None:
            out.append(self.input_gate)
        if self.hidden_gates is not None:
            out.extend(self.hidden_gates)  # type: ignore[arg-type]
        return out

    def classifier_parameters(self) -> list[nn.Parameter]:
        return [p for layer in self.linears for p in layer.parameters()]

    def gate_parameters(self) -> list[nn.Parameter]:
        return [gate.logits for gate in self.gates]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_gate is not None:
            x = self.input_gate(x)
        n_hidden = len(self.linears) - 1
        for i, layer in enumerate(self.linears):
            x = layer(x)
            if i < n_hidden:
                x = torch.relu(x)
                if self.hidden_gates is not None:
                    x = self.hidden_gates[i](x)
        return x.squeeze(-1)

    def kept_inputs(self) -> torch.Tensor:
        if self.input_gate is None:
            return torch.ones(self.layout[0], dtype=torch.bool)
        return self.input_gate.kept()

    def kept_hidden(self) -> list[torch.Tensor]:
        if self.hidden_gates is None:
            return [torch.ones(n, dtype=torch.bool) for n in self.layout[1:-1]]
        return [gate.kept() for gate in self.hidden_gates]  # type: ignore[union-attr]

    def pruned_layout(self) -> list[int]:
        """Layer widths after removing nodes whose gates are exactly zero."""
        return [int(self.kept_inputs().sum())] + [int(m.sum()) for m in self.kept_hidden()] + [1]

    @classmethod
    def from_sequential(cls, sequential: nn.Sequential) -> GatedTagger:
        """A gate-free tagger with the weights of a plain Linear/ReLU stack."""
        linears = [m for m in sequential if isinstance(m, nn.Linear)]
        net = cls(linears[0].in_features, [m.out_features for m in linears[:-1]])
        with torch.no_grad():
            for mine, theirs in zip(net.linears, linears, strict=True):
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
        if not bool(gate.is_frozen):
            raise ValueError("freeze (snap) the gates before extraction")
    kept_in = net.kept_inputs()
    kept_hidden = net.kept_hidden()
    input_values = (
        net.input_gate.values().detach() if net.input_gate is not None else torch.ones(net.layout[0])
    )
    hidden_values = (
        [g.values().detach() for g in net.hidden_gates]  # type: ignore[union-attr]
        if net.hidden_gates is not None
        else [torch.ones(n) for n in net.layout[1:-1]]
    )
    col_masks = [kept_in, *kept_hidden]
    col_values = [input_values, *hidden_values]
    row_masks = [*kept_hidden, torch.ones(1, dtype=torch.bool)]
    layout = [int(kept_in.sum())] + [int(m.sum()) for m in kept_hidden] + [1]
    sequential = build_sequential(layout)
    new_linears = [m for m in sequential if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for old, new, rows, cols, values in zip(
            net.linears, new_linears, row_masks, col_masks, col_values, strict=True
        ):
            weight = old.weight.detach().cpu()[rows][:, cols] * values.cpu()[cols].unsqueeze(0)
            new.weight.copy_(weight)
            new.bias.copy_(old.bias.detach().cpu()[rows])
    return sequential, kept_in.cpu()
