#!/usr/bin/env bash
# Start a one-node SLURM cluster (munged, slurmctld, slurmd; no accounting) for the workflow's
# cluster test. Run as root. Usage: .ci/start-local-slurm.sh [STATE_DIR]
# Needs Debian's slurm-wlm and munge. The node offers one fake GPU (GRES on /dev/null) so that
# rules declaring `gpu: 1` are accepted by sbatch.
set -euo pipefail
S=${1:-${SLURM_LOCAL_DIR:-$PWD/.slurm-local}}
SOCK=$S/munge-run/munge.socket.2
mkdir -p "$S"/{munge,munge-run,state,spool,log}
chmod 700 "$S/munge"
chmod 755 "$S/munge-run"
[ -f "$S/munge/munge.key" ] || mungekey -c -k "$S/munge/munge.key"
munged --key-file="$S/munge/munge.key" --socket="$SOCK" --pid-file="$S/munge-run/munged.pid" \
  --seed-file="$S/munge/munged.seed" --log-file="$S/log/munged.log"
cat > "$S/slurm.conf" <<CONF
ClusterName=localci
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
EnforcePartLimits=ALL
MinJobAge=300
GresTypes=gpu
AccountingStorageType=accounting_storage/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=16000 Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
echo "NodeName=localhost Name=gpu Count=1 File=/dev/null" > "$S/gres.conf"
# the job-step plugin drops SLURM_CONF, so the configuration must sit at the default path
mkdir -p /etc/slurm
ln -sf "$S/slurm.conf" /etc/slurm/slurm.conf
ln -sf "$S/gres.conf" /etc/slurm/gres.conf
slurmctld
slurmd -N localhost
for _ in $(seq 1 60); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && { echo "local SLURM is up ($S)"; exit 0; }
  sleep 0.5
done
echo "local SLURM did not become idle; see $S/log" >&2
exit 1
