# Shared by the launch scripts (tpu_vm.sh, gpu_multinode.sh, slurm_gpu.sbatch, setup_worker.sh): sourced, never run.
#
# A script sets SCRIPT (its name in messages) and USAGE (its usage line), sources this file, then
# adds its options to VALUE_OPTIONS / FLAG_OPTIONS and calls `parse_options "$@"`. `run` runs a command, or
# only prints it (one line, quoted so that it can be pasted into a shell) under --dry-run.
# shellcheck shell=bash disable=SC2034  # (variables the sourcing scripts read)

APT_PACKAGES="espeak-ng sox libtcmalloc-minimal4"  # g2p, synth audio, the host allocator (speecheq_jax/allocator.py)
MIN_PYTHON=3.11                                   # jax's Requires-Python
REMOTE_ROOT=speecheq_jax                          # on a worker, under the home directory: one snapshot per commit + venv
DRY_RUN=0 ALLOW_DIRTY=0 PYTHON=python3
# The options every script takes; a script adds its own before calling parse_options.
declare -A VALUE_OPTIONS=([--python]=PYTHON)                             # --option -> the variable its value sets
declare -A FLAG_OPTIONS=([--dry-run]=DRY_RUN=1 [--allow-dirty]=ALLOW_DIRTY=1)  # --option -> variable=value
PIDS=()

usage_error() {  # one line: what is wrong, then the usage; exit 2
  echo "$SCRIPT: $1; $USAGE" >&2
  exit 2
}

fail() {  # one line; exit 1
  echo "$SCRIPT: $1" >&2
  exit 1
}

need_value() {  # OPTION [VALUE]: usage error unless the option has a value
  [[ $# -ge 2 && -n $2 && $2 != --* ]] || usage_error "$1 needs a value"
}

parse_options() {  # ARGS...: the leading --options (VALUE_OPTIONS, FLAG_OPTIONS); the other words in REST
  while (($#)) && [[ $1 == --* ]]; do
    if [[ -v "VALUE_OPTIONS[$1]" ]]; then
      need_value "$@"
      printf -v "${VALUE_OPTIONS[$1]}" '%s' "$2"
      shift 2
    elif [[ -v "FLAG_OPTIONS[$1]" ]]; then
      printf -v "${FLAG_OPTIONS[$1]%%=*}" '%s' "${FLAG_OPTIONS[$1]#*=}"
      shift
    else
      usage_error "unknown option $1"
    fi
  done
  REST=("$@")
}

quote() {  # WORD: quoted for a POSIX shell, only where it needs it
  if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

quote_all() {  # WORD...: one line of quoted words
  local out="" word
  for word in "$@"; do out+="${out:+ }$(quote "$word")"; done
  printf '%s' "$out"
}

run() {  # COMMAND...: run it, or print it under --dry-run
  if ((DRY_RUN)); then quote_all "$@"; echo; else "$@"; fi
}

run_parallel() {  # COMMAND...: start it in the background (printed with '&' under --dry-run); see wait_all
  if ((DRY_RUN)); then echo "$(quote_all "$@") &"; else "$@" & PIDS+=("$!"); fi
}

wait_all() {  # waits for every run_parallel command; fails with the first non-zero status
  local pid status=0
  if ((DRY_RUN)); then echo wait; return; fi
  for pid in "${PIDS[@]}"; do wait "$pid" || { local s=$?; ((status)) || status=$s; }; done
  PIDS=()
  return "$status"
}

parse_job() {  # CONFIG[:ARG] WORKDIR [--flag=value ...] -> CONFIG, WORKDIR, JOB_ARGS (for speecheq_jax.main)
  (($# >= 2)) || usage_error "CONFIG and WORKDIR are required"
  CONFIG=$1 WORKDIR=$2
  shift 2
  JOB_ARGS=("$@")
  [[ $CONFIG != -* ]] || usage_error "unknown option $CONFIG"
  [[ -f ${CONFIG%%:*} ]] || usage_error "no config file ${CONFIG%%:*} in $(pwd)"
  local arg
  for arg in "$@"; do [[ $arg == --* ]] || usage_error "unexpected argument $arg (main.py flags start with --)"; done
}

pinned_jax() {  # the jax version requirements.txt pins
  local version
  version=$(sed -n 's/^jax==\([0-9][0-9.a-z]*\).*/\1/p' requirements.txt)
  [[ -n $version ]] || fail "requirements.txt pins no jax version (a line jax==X.Y.Z)"
  echo "$version"
}

cuda_wheel() {  # 12|13: the CUDA jax wheel of the pinned version
  [[ $1 == 12 || $1 == 13 ]] || usage_error "--cuda is 12 or 13, not $1"
  echo "jax[cuda$1]==$(pinned_jax)"
}

resolve_commit() {  # sets COMMIT: HEAD; a dirty working tree is refused unless --allow-dirty
  local head changes index tree
  head=$(git rev-parse HEAD 2>/dev/null) || fail "$(pwd) is not a git checkout: the workers get a commit of it"
  changes=$(git status --porcelain)
  if [[ -z $changes ]]; then
    COMMIT=$head
    return
  fi
  ((ALLOW_DIRTY)) || fail "the working tree has uncommitted changes ($(cut -c4- <<<"$changes" | head -3 | paste -sd, -)): commit them, or pass --allow-dirty to ship them"
  # The working tree as it is (untracked files included, ignored ones not), as a commit on HEAD.
  index=$(mktemp)
  cp "$(git rev-parse --git-path index)" "$index"
  GIT_INDEX_FILE=$index git add -A
  tree=$(GIT_INDEX_FILE=$index git write-tree)
  rm -f "$index"
  COMMIT=$(git -c user.name=speecheq-launch -c user.email=launch@localhost commit-tree -p "$head" \
    -m "launch: $head with uncommitted changes" "$tree")
  echo "$SCRIPT: --allow-dirty: shipping the working tree (HEAD $head with uncommitted changes) as $COMMIT" >&2
}

archive_commit() {  # writes ARCHIVE: the repository at COMMIT as a tar.gz
  ARCHIVE=/tmp/speecheq_jax-$COMMIT.tar.gz
  run git archive --format=tar.gz -o "$ARCHIVE" "$COMMIT"
}

worker_setup_command() {  # WHEEL [APT?0|1]: the shell command that unpacks ARCHIVE and sets up a worker
  local apt_args=()
  [[ ${2:-1} == 1 ]] && apt_args=(--apt "$APT_PACKAGES")
  echo "mkdir -p $REMOTE_ROOT/$COMMIT && tar -xzf $ARCHIVE -C $REMOTE_ROOT/$COMMIT" \
       "&& bash $REMOTE_ROOT/$COMMIT/launch/setup_worker.sh $(quote_all --venv "$REMOTE_ROOT/venv" --python "$PYTHON" --wheel "$1" "${apt_args[@]}")"
}

worker_job_command() {  # [NAME=VALUE ...]: the shell command that runs the job on a worker set up as above
  # The assignments go in as they are (the worker's shell expands them).
  echo "cd $REMOTE_ROOT/$COMMIT && ${*:+$* }$(quote_all ../venv/bin/python -m speecheq_jax.main --config "$CONFIG" --workdir "$WORKDIR" "${JOB_ARGS[@]}")"
}
