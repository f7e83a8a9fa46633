#!/usr/bin/env bash
# Sets up one worker of a multi-host run from the repository snapshot it belongs to; the launch
# scripts run it on every worker (tpu_vm.sh, gpu_multinode.sh) or once on shared storage
# (slurm_gpu.sbatch). Idempotent: apt packages only where missing, the virtualenv recreated only
# when requirements*.txt or the accelerator wheel change.
#
#   bash launch/setup_worker.sh --venv ~/speecheq_jax/venv --wheel 'jax[tpu]==0.10.2' \
#       [--python python3] [--apt 'espeak-ng sox libtcmalloc-minimal4'] [--dry-run]
#
# --apt also installs the interpreter and its venv module (PYTHON, PYTHON-venv). --dry-run prints
# every command as it would run on a bare machine, and runs none.
set -euo pipefail
SCRIPT=launch/setup_worker.sh
USAGE="usage: $SCRIPT [--dry-run] [--python PY] [--apt 'PKG ...'] --venv DIR --wheel 'jax[ACCELERATOR]==VERSION'"
# shellcheck source=launch/common.sh
source "$(dirname "$0")/common.sh"

venv="" wheel="" apt=""
VALUE_OPTIONS+=([--venv]=venv [--wheel]=wheel [--apt]=apt)
parse_options "$@"
((${#REST[@]} == 0)) || usage_error "unexpected argument ${REST[0]}"
[[ -n $venv ]] || usage_error "--venv is required"
[[ $wheel == jax\[*\]==* ]] || usage_error "--wheel is required, e.g. 'jax[tpu]==$(cd "$(dirname "$0")/.." && pinned_jax)'"
venv=$(realpath -m "$venv")  # relative to where we were called from
cd "$(dirname "$0")/.."

if [[ -n $apt ]]; then
  read -r -a packages <<<"$apt"
  [[ $PYTHON == */* ]] || packages+=("$PYTHON" "$PYTHON-venv")
  missing=()
  for package in "${packages[@]}"; do
    if ((DRY_RUN)) || ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  if ((${#missing[@]})); then
    sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    # A fresh VM's unattended upgrades may hold the dpkg lock for a few minutes: wait for it.
    lock=(-o DPkg::Lock::Timeout=600)
    run "${sudo[@]}" apt-get "${lock[@]}" update -qq
    run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq "${missing[@]}"
  fi
fi

if ((!DRY_RUN)); then
  "$PYTHON" -c "import sys; sys.exit(sys.version_info < tuple(map(int, '$MIN_PYTHON'.split('.'))))" \
    || fail "$PYTHON is Python $("$PYTHON" -V 2>&1 | cut -d' ' -f2), jax needs $MIN_PYTHON or newer: pass --python python$MIN_PYTHON (or newer)"
fi
want="$(cat requirements.txt requirements-export.txt; echo "$wheel")"
if ((DRY_RUN)) || [[ ! -x $venv/bin/python || $(cat "$venv/.requirements" 2>/dev/null) != "$want" ]]; then
  run "$PYTHON" -m venv --clear "$venv"
  run "$venv/bin/pip" install -q --upgrade pip
  run "$venv/bin/pip" install -q -r requirements.txt "$wheel"
  run "$venv/bin/pip" install -q --no-deps -r requirements-export.txt  # see its header
  ((DRY_RUN)) || printf '%s' "$want" >"$venv/.requirements"
fi
