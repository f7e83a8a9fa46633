#!/usr/bin/env bash
# Runs a config on every worker of a Cloud TPU VM (one host, or every host of a pod slice), from a
# machine with gcloud and this checkout:
#
#   bash launch/tpu_vm.sh --tpu my-v5e-32 --zone us-west4-a configs/multicorpus.py:size=M /mnt/shared/runs/multi \
#       --config.data.data_dir=/mnt/shared/speecheq_data
#
# 1. `git archive` of HEAD (a dirty working tree is refused unless --allow-dirty), copied by scp to
#    every worker; 2. on every worker, launch/setup_worker.sh of that snapshot: apt packages
#    (espeak-ng, sox, libtcmalloc-minimal4, the Python venv module), a virtualenv
#    ~/speecheq_jax/venv with requirements.txt and jax[tpu] at the version requirements.txt pins;
#    3. the job on every worker at once, from ~/speecheq_jax/<commit>, with JAX_COORDINATOR_ADDRESS
#    (worker 0, from the metadata server) so that main.py initialises jax.distributed.
# --dry-run prints the commands and runs none.
#
# On a pod slice the workdir and data_dir must be on storage every worker mounts (NFS/Filestore),
# and the datasets prepared beforehand: a multi-host job does not prepare (docs/howto/scale-out.md).
# A gs:// workdir is written straight to the bucket; a gs:// data_dir must hold prepared datasets
# (docs/howto/scale-out.md). TPU_NAME, ZONE, PROJECT: defaults of the options.
set -euo pipefail
SCRIPT=launch/tpu_vm.sh
USAGE="usage: $SCRIPT [--dry-run] [--allow-dirty] [--no-apt] [--python PY] --tpu NAME --zone ZONE [--project P] CONFIG[:ARG] WORKDIR [--config.x=y ...]"
cd "$(dirname "$0")/.."
# shellcheck source=launch/common.sh
source launch/common.sh

tpu=${TPU_NAME:-} zone=${ZONE:-} project=${PROJECT:-} apt=1
VALUE_OPTIONS+=([--tpu]=tpu [--zone]=zone [--project]=project)
FLAG_OPTIONS+=([--no-apt]=apt=0)
parse_options "$@"
set -- "${REST[@]}"
[[ -n $tpu ]] || usage_error "--tpu (or TPU_NAME) is required"
[[ -n $zone ]] || usage_error "--zone (or ZONE) is required"
parse_job "$@"
resolve_commit

where=(--worker=all "--zone=$zone")
[[ -z $project ]] || where+=("--project=$project")
archive_commit
run gcloud compute tpus tpu-vm scp "$ARCHIVE" "$tpu:$ARCHIVE" "${where[@]}"
run gcloud compute tpus tpu-vm ssh "$tpu" "${where[@]}" --command "$(worker_setup_command "jax[tpu]==$(pinned_jax)" "$apt")"
# main.py starts jax.distributed when JAX_COORDINATOR_ADDRESS is set; JAX then takes the number of
# processes and this worker's id from the metadata server. The coordinator is worker 0, the first
# of the slice's worker-network-endpoints ('name:id:ip' or 'host', as JAX's GceTpuCluster reads
# them), on JAX's TPU coordinator port.
endpoints=http://metadata.google.internal/computeMetadata/v1/instance/attributes/worker-network-endpoints
coordinator="JAX_COORDINATOR_ADDRESS=\"\$(curl -sf -H Metadata-Flavor:Google $endpoints | cut -d, -f1 | cut -d: -f3):8476\""
run gcloud compute tpus tpu-vm ssh "$tpu" "${where[@]}" --command "$(worker_job_command "$coordinator")"
