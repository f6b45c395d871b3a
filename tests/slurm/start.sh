#!/usr/bin/env bash
# Start a single-node, loopback-only Slurm cluster (munged + slurmctld + slurmd) whose every file
# lies in DIR, and wait until its node accepts jobs. Needs root and Debian's slurm-wlm + munge.
#
#   tests/slurm/start.sh DIR            # prints the SLURM_CONF to export on success
#   export SLURM_CONF=DIR/etc/slurm.conf
#   snakemake --profile profiles/slurm --slurm-status-command squeue ...
#   tests/slurm/stop.sh DIR
#
# Ports are free ones picked at start (SLURMCTLD_PORT / SLURMD_PORT override), so a cluster of a
# concurrent test run or a system Slurm is never disturbed. Keep DIR short: munge's socket path
# must fit in 108 bytes.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
dir=$(realpath -m "$1")
timeout_s=${SLURM_START_TIMEOUT_S:-60}
python=${PYTHON:-python3}

fail() {
    echo "slurm start failed: $*" >&2
    for log in "$dir"/log/munged.log "$dir"/log/slurmctld.log "$dir"/log/slurmd.log; do
        [[ -s $log ]] && { echo "--- tail of $log" >&2; tail -n 15 "$log" >&2; }
    done
    exit 1
}

[[ $(id -u) -eq 0 ]] || fail "must run as root (slurmd launches jobs as their submitting user)"
for tool in munged munge unmunge slurmctld slurmd sinfo scontrol; do
    command -v "$tool" >/dev/null || fail "$tool not found (apt-get install slurm-wlm munge)"
done

mkdir -p "$dir"/{etc,state,spool,log,run,munge}
chmod 700 "$dir/munge"
socket=$dir/munge/munge.socket
(( ${#socket} < 100 )) || fail "munge socket path $socket is too long; use a shorter DIR"

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ctld_port=${SLURMCTLD_PORT:-$(free_port)}
slurmd_port=${SLURMD_PORT:-$(free_port)}
while [[ $slurmd_port == "$ctld_port" ]]; do slurmd_port=$(free_port); done

# Node description from the hardware as slurmd itself sees it (a mismatch drains the node), with
# 90 % of its memory so slurmd never finds less than configured.
host=$(hostname -s)
hardware=$(slurmd -C | head -n 1)
[[ $hardware == NodeName=* ]] || fail "slurmd -C gave no node description: $hardware"
mem_mb=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hardware")
topology=$(sed -e 's/^NodeName=[^ ]* //' -e 's/ *RealMemory=[0-9]*//' <<<"$hardware")
mem_mb=$(( mem_mb * 9 / 10 ))

sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@SLURMCTLD_PORT@|$ctld_port|g" \
    -e "s|@SLURMD_PORT@|$slurmd_port|g" -e "s|@HARDWARE@|$topology|" -e "s|@MEM_MB@|$mem_mb|g" \
    "$here/slurm.conf.in" >"$dir/etc/slurm.conf"
export SLURM_CONF=$dir/etc/slurm.conf

# Inside each job, the plugin's job step (snakemake-executor-plugin-slurm-jobstep 0.6.1) runs
# `srun` with every SLURM_* variable but a few removed, SLURM_CONF included. srun then looks for
# /etc/slurm/slurm.conf and next for /run/slurm/conf/slurm.conf, the link a configless slurmd
# keeps to its cached config. We place that link as a configless node would have it; stop.sh
# removes it. (A site config in /etc/slurm would win, so we refuse to run beside one.)
[[ -e /etc/slurm/slurm.conf ]] && fail "/etc/slurm/slurm.conf exists: srun inside jobs would read it, not this cluster's config"
if [[ -e /run/slurm/conf || -L /run/slurm/conf ]]; then
    target=$(readlink /run/slurm/conf || true)
    stale_pidfile=${target%/etc}/run/slurmctld.pid
    if [[ -L /run/slurm/conf && $target == */etc ]] && ! { [[ -s $stale_pidfile ]] && kill -0 "$(cat "$stale_pidfile")" 2>/dev/null; }; then
        rm -f /run/slurm/conf   # left by a test cluster whose slurmctld is gone
    else
        fail "/run/slurm/conf exists (-> ${target:-not a link}): another Slurm cluster runs on this machine"
    fi
fi
mkdir -p /run/slurm
ln -s "$dir/etc" /run/slurm/conf

# A private munged: own key, socket, pid and seed files (--force: running as root is intended).
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
munged --force --socket="$socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed" || fail "munged did not start"
munge -n -S "$socket" | unmunge -S "$socket" >/dev/null || fail "munge credential round trip failed"

slurmctld -i || fail "slurmctld did not start"
slurmd || fail "slurmd did not start"

deadline=$(( SECONDS + timeout_s ))
state=""
while (( SECONDS < deadline )); do
    state=$(sinfo --noheader --nodes="$host" --format=%T 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.5
done
[[ $state == idle ]] || fail "node $host is '${state:-unreachable}' instead of idle after ${timeout_s} s"
echo "SLURM_CONF=$SLURM_CONF"
