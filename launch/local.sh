#!/usr/bin/env bash
# Sets up a fresh machine (Debian/Ubuntu) and runs one job of the project.
#   bash launch/local.sh demo   # generate SEQD-synth, train, evaluate, report
#   bash launch/local.sh test   # the test suite on 8 fake CPU devices
# Set-up is idempotent: apt packages only where missing, one virtualenv (.venv).
set -euo pipefail
cd "$(dirname "$0")/.."
job="${1:?usage: launch/local.sh demo|test [extra args]}"; shift || true

need_apt=()
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v sox >/dev/null || need_apt+=(sox)
# headless Chromium: the web page's test (tests/serving)
[ "$job" != test ] || command -v chromium >/dev/null || need_apt+=(chromium)
# tcmalloc: XLA:CPU's per-step buffers are reused instead of faulted in again (speecheq_jax/allocator.py)
ldconfig -p | grep libtcmalloc_minimal.so.4 >/dev/null || need_apt+=(libtcmalloc-minimal4)
if ((${#need_apt[@]})); then
  echo "[setup] apt-get install ${need_apt[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ] || ! cat requirements.txt requirements-export.txt | cmp -s - .venv/.requirements; then
  echo "[setup] virtualenv .venv with requirements.txt"
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements.txt
  .venv/bin/pip install -q --no-deps -r requirements-export.txt
  .venv/bin/pip install -q --no-deps -e .
  cat requirements.txt requirements-export.txt > .venv/.requirements
  rm -f .venv/.requirements-ssl
fi
# The tests' parity reference for the SSL encoders (transformers on PyTorch, CPU): test-only.
if [ "$job" = test ] && ! cmp -s requirements-ssl.txt .venv/.requirements-ssl; then
  echo "[setup] test-only requirements-ssl.txt (PyTorch CPU, transformers)"
  .venv/bin/pip install -q -r requirements-ssl.txt
  cp requirements-ssl.txt .venv/.requirements-ssl
fi
# Preparation on Apache Beam (tests/prep/test_beam_prepare.py) runs in its own virtualenv: every
# apache-beam release requires protobuf<7, requirements.txt pins protobuf 7 (docs/howto/scale-out.md).
if [ "$job" = test ] && ! cmp -s requirements-prep.txt .venv-prep/.requirements; then
  echo "[setup] test-only virtualenv .venv-prep with requirements-prep.txt (Apache Beam)"
  python3 -m venv .venv-prep
  .venv-prep/bin/pip install -q -r requirements-prep.txt
  .venv-prep/bin/pip install -q --no-deps -e .
  cp requirements-prep.txt .venv-prep/.requirements
fi
export JAX_COMPILATION_CACHE_DIR="${JAX_COMPILATION_CACHE_DIR:-$PWD/.cache/jax}"
# Both jobs under tcmalloc: main.py would restart itself under it, pytest's own process would not.
if ldconfig -p | grep libtcmalloc_minimal.so.4 >/dev/null; then
  export LD_PRELOAD="libtcmalloc_minimal.so.4${LD_PRELOAD:+:$LD_PRELOAD}"
fi

case "$job" in
  demo) exec .venv/bin/python -m speecheq_jax.main --config configs/demo.py --workdir "${WORKDIR:-runs/demo}" "$@" ;;
  test) XLA_FLAGS="--xla_force_host_platform_device_count=8 ${XLA_FLAGS:-}" exec .venv/bin/python -m pytest "$@" ;;
  *) echo "unknown job '$job' (demo|test)" >&2; exit 2 ;;
esac
