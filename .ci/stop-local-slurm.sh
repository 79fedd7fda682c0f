#!/usr/bin/env bash
# Stop the daemons that .ci/start-local-slurm.sh started. Usage: .ci/stop-local-slurm.sh [STATE_DIR]
S=${1:-${SLURM_LOCAL_DIR:-$PWD/.slurm-local}}
for pid_file in "$S/slurmd.pid" "$S/slurmctld.pid" "$S/munge-run/munged.pid"; do
  [ -f "$pid_file" ] && kill "$(cat "$pid_file")" 2>/dev/null
done
exit 0
