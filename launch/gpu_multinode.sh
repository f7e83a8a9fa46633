#!/usr/bin/env bash
# Starts this node's process of a multi-node GPU run (one process per node, all local GPUs).
#
# On every node, with the same COORDINATOR (host:port of node 0) and NUM_NODES:
#   COORDINATOR=10.0.0.1:12345 NUM_NODES=4 NODE_RANK=$i bash launch/gpu_multinode.sh \
#       configs/seqd_synth.py:size=M /shared/runs/seqd-M
# The workdir must be on storage every node sees (checkpoints are written by all processes).
# Under SLURM, skip the variables: `srun bash launch/gpu_multinode.sh ...` is detected by JAX.
set -euo pipefail
config="${1:?usage: launch/gpu_multinode.sh CONFIG[:ARG] WORKDIR [--config.x=y ...]}"
workdir="${2:?usage: launch/gpu_multinode.sh CONFIG[:ARG] WORKDIR [--config.x=y ...]}"
shift 2
cd "$(dirname "$0")/.."
if [ -n "${COORDINATOR:-}" ]; then
  export JAX_COORDINATOR_ADDRESS="$COORDINATOR" JAX_NUM_PROCESSES="${NUM_NODES:?set NUM_NODES}" \
         JAX_PROCESS_ID="${NODE_RANK:?set NODE_RANK}"
fi
exec .venv/bin/python -m speecheq_jax.main --config "$config" --workdir "$workdir" "$@"
