#!/usr/bin/env bash
# A real test of deploy/slurm/tailrisk.sbatch: brings up a single-node Slurm cluster on this
# machine (munged, slurmctld, slurmd; generated munge key, slurm.conf and gres.conf in a
# temporary directory, nothing under /etc touched), submits the job with `sbatch --wait`
# (4 shards of the sample book as a job array, then the dependent merge), and compares
# deploy/slurm/out/report.json with a single `tailrisk run` of the same book: equal JSON
# except run.seconds (the shards' sum, H8) and run.device (H4). Every daemon it started is
# stopped on exit (trap), and each wait is bounded.
#
# The node has no GPU: slurm.conf declares a generic resource `gpu:4` whose "devices" in
# gres.conf are /dev/null, /dev/zero, /dev/full and /dev/urandom (Slurm drops a GPU without a
# device file; nothing constrains devices here), so the script's own `--gres=gpu:1` per task
# is scheduled as written;
# tailrisk's `--backend auto` then runs on the CPU, as the single run it is compared with.
#
# Needs root (the daemons run as root here) and Debian's slurm-wlm and munge.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
tailrisk="$repo/target/release/tailrisk"
[[ -x $tailrisk ]] || cargo build --release --bin tailrisk

work=$(mktemp -d /tmp/tailrisk-slurm.XXXXXX)
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [[ $status -ne 0 && -n ${KEEP:-} ]]; then cp -r "$work" /tmp/tailrisk-slurm-failed; fi
  if [[ $status -ne 0 ]]; then
    echo "slurm test failed; daemon logs:" >&2
    tail -n 20 "$work"/*.log "$repo"/deploy/slurm/out/*.log 2>/dev/null >&2 || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local limit=$1; shift
  for _ in $(seq $((limit * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out after ${limit}s waiting for: $*" >&2
  return 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

node=$(hostname -s)
mkdir -p "$work/state" "$work/spool" "$work/munge"
chmod 700 "$work/munge"

# munge: a fresh key, the daemon on a private socket.
mungekey --create --keyfile="$work/munge/munge.key"
chmod 600 "$work/munge/munge.key"
munged --foreground --force --key-file="$work/munge/munge.key" \
  --socket="$work/munge/munge.socket" --pid-file="$work/munge/munged.pid" \
  --seed-file="$work/munge/munged.seed" --log-file="$work/munged.log" >/dev/null 2>&1 &
pids+=($!)
wait_for 10 test -S "$work/munge/munge.socket"

cat >"$work/slurm.conf" <<CONF
ClusterName=tailrisk-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=$node NodeAddr=127.0.0.1 CPUs=4 RealMemory=1000 Gres=gpu:4 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
# Slurm drops a GPU without a device file; four harmless character devices stand in.
printf "NodeName=%s Name=gpu File=/dev/null,/dev/zero,/dev/full,/dev/urandom\n" "$node" \
  >"$work/gres.conf"
export SLURM_CONF="$work/slurm.conf"

slurmctld -D -i -f "$SLURM_CONF" >"$work/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N "$node" -f "$SLURM_CONF" >"$work/slurmd.out" 2>&1 &
pids+=($!)
idle() { [[ $(sinfo -h -n "$node" -o %T 2>/dev/null) == idle* ]]; }
wait_for 30 idle

echo "slurm test: cluster up (node $node); submitting 4 shards and the merge"
rm -f deploy/slurm/out/report.json
timeout 120 sbatch --wait deploy/slurm/tailrisk.sbatch

"$tailrisk" run --format json >"$work/single.json"
python3 - deploy/slurm/out/report.json "$work/single.json" <<'PY'
import json, sys
merged, single = (json.load(open(p)) for p in sys.argv[1:3])
for report in (merged, single):
    report["run"].pop("seconds")
    report["run"].pop("device")
if merged != single:
    sys.exit("slurm test: merged report differs from the single run")
print("slurm test: merged report of 4 shards equals the single run")
PY
