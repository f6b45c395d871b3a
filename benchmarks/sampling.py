"""Which pTHatMin and pTHat bias give the most *effective* jets per generated event?

A low PhaseSpace:pTHatMin keeps the selected jets complete (generation.pthat_min_gev), and the
pTHat bias (generation.pthat_bias_power) keeps enough of the generated events boosted, but the
events then carry weights, and wide weights cost statistics: what matters for the taggers'
uncertainties is the effective number of jets n_eff = (sum w)^2 / sum w^2, with w the final
per-jet weight (generator weight x the background's pT/eta flattening).

Reference: the sample of a finished run (its events/ and dataset/ directories), generated with
(pTHatMin_0, power_0). Any other choice (m >= pTHatMin_0, power p) is emulated by importance
reweighting the same events: an event with pTHat x enters with relative probability
x^(p - power_0) [x > m] and carries the weight x^-p. Printed per process and choice: the
weighted fraction of selected jets from events below m (what a sample with that pTHatMin would
miss) and n_eff per generated event relative to the run's own choice (>1: more statistics for
the same generation time; Pythia's time per event hardly depends on pTHat).

    python benchmarks/sampling.py --results results [--minima 150 170] [--powers 0 2 3 4]

The run must have been generated with a pTHatMin at or below every candidate m.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import uproot

from deeppp.contracts import EVENTS_TREE, JETS_TREE, PROCESS_LABEL, SPLITS, dataset_file_name


def _run_choice(events_file: Path) -> tuple[float, float]:
    """(pTHatMin, bias power) of a generated chunk, from its provenance settings."""
    record = json.loads(str(uproot.open(events_file)["provenance"]))
    settings = " ".join(record.get("settings", []))
    minimum = re.search(r"PhaseSpace:pTHatMin = ([0-9.eE+-]+)", settings)
    if minimum is None:
        raise SystemExit(f"{events_file}: no PhaseSpace:pTHatMin in its settings")
    biased = re.search(r"PhaseSpace:bias2Selection = on", settings)
    power = re.search(r"PhaseSpace:bias2SelectionPow = ([0-9.eE+-]+)", settings)
    return float(minimum.group(1)), float(power.group(1)) if biased and power else 0.0


def _process_sample(results: Path, process: str) -> dict[str, np.ndarray]:
    """pTHat of every generated event, and pTHat + final weight + generator weight per jet."""
    pthat_of_chunk, weight_of_chunk = {}, {}
    for path in sorted((results / "events" / process).glob("*.root")):
        events = uproot.open(path)[EVENTS_TREE].arrays(["pthat", "weight"], library="np")
        pthat_of_chunk[int(path.stem)] = events["pthat"].astype(np.float64)
        weight_of_chunk[int(path.stem)] = events["weight"].astype(np.float64)
    columns = ["label", "weight", "chunk", "event_number"]
    parts = []
    for split in SPLITS:
        jets = uproot.open(results / "dataset" / dataset_file_name(split))[JETS_TREE]
        table = jets.arrays(columns, library="np")
        keep = table["label"] == PROCESS_LABEL[process]
        keep &= np.isin(table["chunk"], list(pthat_of_chunk))
        parts.append({k: v[keep] for k, v in table.items()})
    jets = {k: np.concatenate([p[k] for p in parts]) for k in columns}
    jet_pthat = np.array(
        [pthat_of_chunk[c][e] for c, e in zip(jets["chunk"], jets["event_number"], strict=True)]
    )
    jet_generator_weight = np.array(
        [weight_of_chunk[c][e] for c, e in zip(jets["chunk"], jets["event_number"], strict=True)]
    )
    return {
        "event_pthat": np.concatenate(list(pthat_of_chunk.values())),
        "jet_pthat": jet_pthat,
        "jet_weight": jets["weight"].astype(np.float64),
        "jet_generator_weight": jet_generator_weight,
    }


def effective_jets_per_event(
    sample: dict[str, np.ndarray], power0: float, m: float, p: float
) -> float:
    """n_eff of the selected jets per generated event for (pTHatMin m, bias power p)."""
    event_rate = sample["event_pthat"] ** (p - power0) * (sample["event_pthat"] > m)
    jet_rate = sample["jet_pthat"] ** (p - power0) * (sample["jet_pthat"] > m)
    # The flattening factor of a jet does not depend on how its event was sampled.
    flattening = sample["jet_weight"] / sample["jet_generator_weight"]
    weight = flattening * sample["jet_pthat"] ** (-p)
    first = np.sum(jet_rate * weight) / event_rate.sum()
    second = np.sum(jet_rate * weight**2) / event_rate.sum()
    return float(first**2 / second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--minima", type=float, nargs="+", default=[130, 150, 170, 190])
    parser.add_argument("--powers", type=float, nargs="+", default=[0, 2, 3, 4])
    args = parser.parse_args()
    for process in PROCESS_LABEL:
        files = sorted((args.results / "events" / process).glob("*.root"))
        if not files:
            raise SystemExit(f"{args.results}/events/{process}: no events files")
        m0, power0 = _run_choice(files[0])
        sample = _process_sample(args.results, process)
        reference = effective_jets_per_event(sample, power0, m0, power0)
        n_events, n_jets = len(sample["event_pthat"]), len(sample["jet_pthat"])
        print(
            f"{process}: run generated at pTHatMin {m0:g} GeV, bias power {power0:g}; "
            f"{n_events} events, {n_jets} selected jets, {reference:.3f} effective jets/event"
        )
        header = "  pTHatMin  missing jets  " + "  ".join(f"power {p:g}" for p in args.powers)
        print(header + "   (effective jets per event relative to the run's choice)")
        for m in sorted(args.minima):
            if m < m0:
                continue
            below = sample["jet_pthat"] < m
            missing = np.sum(sample["jet_weight"][below]) / np.sum(sample["jet_weight"])
            ratios = [
                effective_jets_per_event(sample, power0, m, p) / reference for p in args.powers
            ]
            cells = "  ".join(f"{r:7.2f}" for r in ratios)
            print(f"  {m:8g}  {missing:10.2%}    {cells}")


if __name__ == "__main__":
    main()
