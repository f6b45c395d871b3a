#!/usr/bin/env bash
# Stop the cluster that tests/slurm/start.sh started in DIR: cancel its jobs, end slurmd and
# slurmctld, then munged, through their pid files (TERM, then KILL after 15 s), and remove the
# /run/slurm/conf link start.sh made. Safe to run twice or after a failed start.
set -uo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$(realpath -m "$1")
export SLURM_CONF=$dir/etc/slurm.conf

pid_of() {  # pid of a live daemon from its pid file, else nothing
    local pidfile=$dir/run/$1.pid
    [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"
}

any_alive() {
    local pid
    for pid; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}

stop() {  # TERM the given pids, KILL those still alive after 15 s
    local pid
    (( $# )) || return 0
    kill -TERM "$@" 2>/dev/null
    for _ in $(seq 1 30); do
        any_alive "$@" || return 0
        sleep 0.5
    done
    for pid in "$@"; do
        if kill -0 "$pid" 2>/dev/null; then
            echo "pid $pid ignored TERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
    done
}

if [[ -n $(pid_of slurmctld) ]]; then
    # Jobs first: under proctrack/linuxproc their steps would outlive slurmd.
    scancel --full --quiet --user="$(id -un)" 2>/dev/null
    for _ in $(seq 1 30); do
        [[ -z $(squeue --noheader --states=PENDING,RUNNING,COMPLETING --format=%i 2>/dev/null) ]] && break
        sleep 0.5
    done
fi

# shellcheck disable=SC2046  # word splitting of the pid list is intended
stop $(pid_of slurmd) $(pid_of slurmctld)
# shellcheck disable=SC2046
stop $(pid_of munged)

link=/run/slurm/conf
if [[ -L $link && $(readlink "$link") == "$dir"/* ]]; then
    rm -f "$link"
fi
exit 0
