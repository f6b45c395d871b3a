# Generation: one job per (process, chunk), each with its own seed derived from (seed, process, chunk).
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


rule generation:
    """Target: every configured event chunk."""
    input:
        [event_file(process, chunk) for process, chunk in event_chunks()],
