#!/usr/bin/env bash
# Runs a config on every worker of a Cloud TPU VM (single host or pod slice).
#
#   TPU_NAME=my-v5e-32 ZONE=us-west4-a bash launch/tpu_vm.sh configs/multicorpus.py:size=M gs://bucket/runs/multi \
#       --config.data.data_dir=gs://bucket/speecheq_data
#
# Each worker clones nothing: it expects this repository at ~/speecheq_jax (copy it with
# `gcloud compute tpus tpu-vm scp --recurse . $TPU_NAME:~/speecheq_jax --worker=all --zone $ZONE`).
# JAX detects the pod slice and main.py calls jax.distributed.initialize(); every process
# reads its own slice of the data and the batch is assembled into global arrays.
set -euo pipefail
: "${TPU_NAME:?set TPU_NAME}"; : "${ZONE:?set ZONE}"
config="${1:?usage: launch/tpu_vm.sh CONFIG[:ARG] WORKDIR [--config.x=y ...]}"
workdir="${2:?usage: launch/tpu_vm.sh CONFIG[:ARG] WORKDIR [--config.x=y ...]}"
shift 2
remote="cd ~/speecheq_jax && python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt 'jax[tpu]==0.10.2' \
  && .venv/bin/pip install -q --no-deps -e . \
  && .venv/bin/python -m speecheq_jax.main --config $config --workdir $workdir $*"
gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone "$ZONE" --worker=all --command "$remote"
