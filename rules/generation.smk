# Generation: one job per (process, chunk), each with its own seed derived from (seed, process, chunk),
# and the min-bias library of the pile-up overlay (when reconstruction.pileup.mu > 0).
#   snakemake --cores 2 generation            (re)generate only the event files

from deeppp.contracts import chunk_file_name


def event_chunks():
    """(process, chunk) pairs the config asks for."""
    return [
        (process, chunk)
        for process, spec in config["generation"]["processes"].items()
        for chunk in range(spec["chunks"])
    ]


def event_file(process, chunk):
    return f"{RESULTS}/events/{process}/{chunk_file_name(chunk)}"


def _maybe_temp(path):
    return temp(path) if config["generation"]["temporary_events"] else path


rule generate_events:
    output:
        _maybe_temp(f"{RESULTS}/events/{{process}}/{{chunk}}.root"),
    input:
        config=stage_config("generation"),
    log:
        f"{RESULTS}/logs/generation/{{process}}_{{chunk}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/generation/{{process}}_{{chunk}}.tsv"
    wildcard_constraints:
        process="signal|background",
        chunk=r"\d{3}",
    resources:
        mem_mb=2000,
        runtime=lambda wc: 30 + config["generation"]["processes"][wc.process]["events_per_chunk"] // 3000,
    shell:
        "python -m generation --config {input.config} --process {wildcards.process} "
        "--chunk $((10#{wildcards.chunk})) --out {output} --no-progress > {log} 2>&1"


def pileup_library_file():
    """The min-bias library of the pile-up overlay (made when reconstruction.pileup.mu > 0)."""
    return f"{RESULTS}/pileup/minbias.root"


def minbias_config():
    """Config file of the min-bias library job: the seed and only the generation keys it uses,
    so that editing pTHatMin or the physics samples never regenerates the library."""
    path = Path(RESULTS, "config", "minbias.yaml")
    generation = config["generation"]
    subset = {
        "seed": config["seed"],
        "results_dir": config["results_dir"],
        "generation": {k: generation[k] for k in ("sqrt_s_gev", "limit_tau0_mm")},
    }
    text = yaml.safe_dump(subset, sort_keys=True)
    if not path.is_file() or path.read_text() != text:
        write_text_atomic(path, text)
    return str(path)


rule minbias_library:
    """Pile-up library: Pythia 8 SoftQCD:nonDiffractive with the ATLAS A3 tune (generation/settings.py),
    reconstruction.pileup.library_events events, one seed derived from (seed, minbias, 0)."""
    output:
        f"{RESULTS}/pileup/minbias.root",
    input:
        config=minbias_config(),
    params:
        events=config["reconstruction"]["pileup"]["library_events"],
    log:
        f"{RESULTS}/logs/generation/minbias.log",
    benchmark:
        f"{RESULTS}/benchmarks/generation/minbias.tsv"
    resources:
        mem_mb=2000,
        runtime=lambda wc: 10 + config["reconstruction"]["pileup"]["library_events"] // 10000,
    shell:
        "python -m generation --config {input.config} --process minbias --events {params.events} "
        "--chunk 0 --out {output} --no-progress > {log} 2>&1"


rule generation:
    """Target: every configured event chunk (and the min-bias library when pile-up is on)."""
    input:
        [event_file(process, chunk) for process, chunk in event_chunks()],
        [pileup_library_file()] if config["reconstruction"]["pileup"]["mu"] > 0 else [],
