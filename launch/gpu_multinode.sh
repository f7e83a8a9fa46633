#!/usr/bin/env bash
# Runs a config on several GPU machines reached by ssh (one JAX process per machine, all its GPUs),
# from a machine with this checkout. Under SLURM use launch/slurm_gpu.sbatch instead.
#
#   bash launch/gpu_multinode.sh --hosts gpu1,gpu2,gpu3,gpu4 configs/seqd_synth.py:size=M /shared/runs/seqd-M \
#       --config.data.data_dir=/shared/speecheq_data
#
# 1. `git archive` of HEAD (a dirty working tree is refused unless --allow-dirty), copied by scp to
#    every host; 2. on every host, launch/setup_worker.sh of that snapshot: apt packages (espeak-ng,
#    sox, libtcmalloc-minimal4, the Python venv module; --no-apt where the image has them or there is
#    no sudo), a virtualenv ~/speecheq_jax/venv with requirements.txt and jax[cuda12] (--cuda 13:
#    jax[cuda13]) at the version requirements.txt pins; 3. the job on every host at once, from
#    ~/speecheq_jax/<commit>, process i on the i-th host, the first host coordinating
#    (JAX_COORDINATOR_ADDRESS=HOST1:PORT, JAX_NUM_PROCESSES, JAX_PROCESS_ID: main.py reads them).
# --dry-run prints the commands and runs none ('&' marks those run at once, 'wait' where they end).
#
# The workdir and data_dir must be on storage every host mounts, and the datasets prepared
# beforehand: a multi-host job does not prepare (docs/howto/scale-out.md).
set -euo pipefail
SCRIPT=launch/gpu_multinode.sh
USAGE="usage: $SCRIPT [--dry-run] [--allow-dirty] [--no-apt] [--python PY] [--cuda 12|13] [--port N] --hosts H1,H2,... CONFIG[:ARG] WORKDIR [--config.x=y ...]"
cd "$(dirname "$0")/.."
# shellcheck source=launch/common.sh
source launch/common.sh

hosts="" cuda=12 port=12345 apt=1
VALUE_OPTIONS+=([--hosts]=hosts [--cuda]=cuda [--port]=port)
FLAG_OPTIONS+=([--no-apt]=apt=0)
parse_options "$@"
set -- "${REST[@]}"
[[ -n $hosts ]] || usage_error "--hosts is required"
[[ $port =~ ^[0-9]+$ ]] || usage_error "--port is a number, not $port"
IFS=, read -r -a host_list <<<"$hosts"
wheel=$(cuda_wheel "$cuda")
parse_job "$@"
resolve_commit

coordinator=${host_list[0]#*@}:$port  # user@host: the address is the host's
archive_commit
for host in "${host_list[@]}"; do run_parallel scp -q "$ARCHIVE" "$host:$ARCHIVE"; done
wait_all
for host in "${host_list[@]}"; do run_parallel ssh "$host" "$(worker_setup_command "$wheel" "$apt")"; done
wait_all
for i in "${!host_list[@]}"; do
  run_parallel ssh "${host_list[$i]}" "$(worker_job_command "JAX_COORDINATOR_ADDRESS=$coordinator" \
    "JAX_NUM_PROCESSES=${#host_list[@]}" "JAX_PROCESS_ID=$i")"
done
wait_all
