"""Pythia 8 settings for the two processes of the benchmark, and per-chunk seeds.

Signal is g b -> H b with H -> b bbar (``HiggsSM:qg2Hq``); that switch also produces
c g -> H c (a few per cent), which :mod:`generation.events` vetoes on the incoming quark flavour.
Background is QCD 2 -> 2 (``HardQCD:all``). Both are generated above the same ``pTHatMin``, chosen
below the large-R jet threshold so that the selected jets do not depend on it (docs/detector.md).
``minbias`` is the pile-up library of the reconstruction: non-diffractive soft QCD with the ATLAS
A3 tune, the tune ATLAS uses for its pile-up overlay.
"""

from __future__ import annotations

import hashlib
from typing import Any

from deeppp import DeepppError

PROCESSES = ("signal", "background", "minbias")
#: Processes of the physics samples (the config's generation.processes); minbias is the pile-up
#: library, made on request of the reconstruction.
PHYSICS_PROCESSES = ("signal", "background")

#: Pythia's accepted seed range is 1..900000000.
_MAX_PYTHIA_SEED = 900_000_000

PROCESS_SETTINGS: dict[str, tuple[str, ...]] = {
    "signal": (
        "HiggsSM:qg2Hq = on",  # q g -> H q, q = b (wanted) or c (vetoed)
        "25:onMode = off",
        "25:onIfAny = 5",  # H -> b bbar only
    ),
    "background": ("HardQCD:all = on",),
    # ATLAS A3 tune (ATL-PHYS-PUB-2016-017), the tune of ATLAS's Run-2 pile-up samples, as in
    # ATLAS's generator configuration
    # Generators/Pythia8_i/share/common/Pythia8_A3_NNPDF23LO_Common.py
    # (github.com/rolandjansky/athena): Monash base (Tune:ee = 7, Tune:pp = 14) with the
    # NNPDF2.3 QCD+QED LO (alpha_s = 0.130) PDF, which is Pythia 8.317's internal PDF:pSet = 13
    # (the Monash default, so no LHAPDF is needed), and these parameters. Pythia 8.317 has no
    # Tune:pp value for A3 (its tunes/ folder stops at A14 and the A2 minimum-bias tune).
    "minbias": (
        "SoftQCD:nonDiffractive = on",
        "Tune:ee = 7",
        "Tune:pp = 14",
        "PDF:pSet = 13",
        "MultipartonInteractions:bProfile = 2",
        "MultipartonInteractions:pT0Ref = 2.45",
        "MultipartonInteractions:ecmPow = 0.21",
        "MultipartonInteractions:coreRadius = 0.55",
        "MultipartonInteractions:coreFraction = 0.9",
        "SigmaDiffractive:PomFlux = 4",
        "SigmaDiffractive:PomFluxEpsilon = 0.07",
        "SigmaDiffractive:PomFluxAlphaPrime = 0.25",
        "ColourReconnection:range = 1.8",
    ),
}

#: Keep Pythia from printing banners, listings and counters into our logs.
_QUIET_SETTINGS = (
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Next:numberShowLHA = 0",
    "Init:showProcesses = off",
    "Init:showMultipartonInteractions = off",
    "Init:showChangedSettings = off",
    "Init:showChangedParticleData = off",
)


def chunk_seed(global_seed: int, process: str, chunk: int) -> int:
    """Pythia seed of one chunk, derived from (global seed, process, chunk).

    A hash rather than ``global_seed + chunk`` so that neighbouring global seeds never share
    chunks, and signal and background chunks never share a random stream.
    """
    digest = hashlib.sha256(f"deeppp/generation/{global_seed}/{process}/{chunk}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % _MAX_PYTHIA_SEED + 1


def pthat_min_gev(process: str, generation_config: dict[str, Any]) -> float:
    """PhaseSpace:pTHatMin of ``process``: its own ``pthat_min_gev`` if set, else the global one.

    Per process because the selected jets of each process start at a different pTHat: the
    Higgs-matched signal jet needs a harder recoil than the two leading QCD jets
    (benchmarks/sampling.py measures both, and what each choice costs in statistics).
    """
    spec = generation_config.get("processes", {}).get(process, {})
    return float(spec.get("pthat_min_gev", generation_config["pthat_min_gev"]))


def pythia_settings(process: str, seed: int, generation_config: dict[str, Any]) -> list[str]:
    """The complete list of Pythia setting strings for ``process``, in the order they are read.

    ``generation_config`` is the validated ``generation`` section of a deeppp config.
    """
    if process not in PROCESS_SETTINGS:
        raise DeepppError(f"unknown process {process!r} (choose from {', '.join(PROCESSES)})")
    if not 1 <= seed <= _MAX_PYTHIA_SEED:
        raise DeepppError(f"seed {seed} outside Pythia's range 1..{_MAX_PYTHIA_SEED}")
    settings = [f"Beams:eCM = {float(generation_config['sqrt_s_gev'])!r}"]
    if process in PHYSICS_PROCESSES:  # soft QCD has no hard-process pT cut
        pthat_min = pthat_min_gev(process, generation_config)
        settings.append(f"PhaseSpace:pTHatMin = {pthat_min!r}")
        power = float(generation_config.get("pthat_bias_power", 0.0))
        if power > 0:
            # Over-sample high pTHat; every event carries the weight (pTHat / pTHatMin)^-power
            # (generation.events reads it), so weighted distributions stay physical.
            settings += [
                "PhaseSpace:bias2Selection = on",
                f"PhaseSpace:bias2SelectionPow = {power!r}",
                f"PhaseSpace:bias2SelectionRef = {pthat_min!r}",
            ]
    settings += PROCESS_SETTINGS[process]
    tau0_max_mm = generation_config.get("limit_tau0_mm")
    if tau0_max_mm is not None:
        # ATLAS generator convention: particles with c*tau0 > 10 mm (K0S, Lambda, ...) are left
        # undecayed for the detector simulation, as Geant4 would decay them in the tracker.
        settings += [
            "ParticleDecays:limitTau0 = on",
            f"ParticleDecays:tau0Max = {float(tau0_max_mm)!r}",
        ]
    settings += list(generation_config.get("extra_settings", {}).get(process, []))
    settings += ["Random:setSeed = on", f"Random:seed = {seed}", *_QUIET_SETTINGS]
    return settings
