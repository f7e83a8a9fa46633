r"""Entry point: prepare data, train, evaluate checkpoints, predict, export.

  python -m speecheq_jax.main --config configs/demo.py --workdir runs/demo
  python -m speecheq_jax.main --config configs/iemocap.py:fold=session3,size=S \
      --config.data.corpora.0.root=/data/IEMOCAP_full_release --workdir runs/iemocap3
  python -m speecheq_jax.main --workdir runs/demo --mode evaluate --checkpoint best
  python -m speecheq_jax.main --workdir runs/demo --mode predict --input a.wav dir/
  python -m speecheq_jax.main --workdir runs/demo --mode export --checkpoint best
  python -m speecheq_jax.main --config configs/iemocap.py:root=/data/IEMOCAP --workdir runs/iemocap-cv --mode crossval
  python -m speecheq_jax.main ... --mode crossval --fold session3        # one fold (one job per machine)
  python -m speecheq_jax.main ... --mode crossval --aggregate_only       # only the report over finished folds

evaluate, predict and export build the model from the config stored with the checkpoint: they need
only the run directory and the checkpoint's name. A --config given to them may only move the data
(data.data_dir) or change the mesh and batch size for this machine.

--mode crossval runs every fold of the config's protocol that has not finished (or only those named
by --fold) under WORKDIR/folds/<fold>/, then aggregates whatever folds are finished into
WORKDIR/crossval.{json,md} and crossval_confusion.png, naming the missing ones (docs/protocols.md).

A mistyped config key or a bad value is reported in one line, not a traceback;
so is bad data (a missing corpus root, an unwritable data_dir, a full disk:
any `speecheq_jax.errors.DataError`).
Every mode uses JAX's persistent compilation cache (`$JAX_COMPILATION_CACHE_DIR`, by default
~/.cache/speecheq_jax/xla), so a resumed run, an evaluation or a prediction loads the executables
an earlier run compiled instead of compiling them again.
On a CPU the host allocator matters: the process restarts itself once under tcmalloc when it is
installed (speecheq_jax/allocator.py).
On multi-host platforms (Cloud TPU pods, multi-node GPU) `jax.distributed`
is initialised first; on one machine nothing is done.
"""

from __future__ import annotations

import logging
import os
import re
import sys

from speecheq_jax import allocator

if __name__ == "__main__":  # before JAX loads: the process may restart itself under tcmalloc
    allocator.reexec_with_tcmalloc()

import jax  # noqa: E402  (after the allocator choice)
import ml_collections
from absl import app, flags
from ml_collections import config_flags

from speecheq_jax import storage
from speecheq_jax.errors import DataError
from speecheq_jax.run_config import ConfigError

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file, e.g. configs/demo.py:size=tiny.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and reports.")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "evaluate", "predict", "export", "prepare", "crossval"],
                          "What to do.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", "best", "evaluate/predict/export: 'best', 'latest' or a step number.")
_INPUT = flags.DEFINE_multi_string("input", [], "predict: audio files or directories (repeat the flag or list them).")
_OUTPUT = flags.DEFINE_string("output", None, "predict: JSON-lines output (default <workdir>/predictions.jsonl).")
_TIMELINE = flags.DEFINE_string("timeline", None, "predict: directory for one timeline PNG per file.")
_FOLD = flags.DEFINE_multi_string("fold", [], "crossval: run only these folds (repeat the flag); default every fold.")
_AGGREGATE_ONLY = flags.DEFINE_bool("aggregate_only", False, "crossval: run no fold, only aggregate the finished ones.")


def _parse_flags(argv: list[str]) -> list[str]:
    """absl flag parsing with config errors turned into one line and exit code 2."""
    try:
        rest = flags.FLAGS(argv)
        config = _CONFIG.value
        if config is not None and not isinstance(config, ml_collections.ConfigDict):
            config.name  # an _ErrorConfig raises the loading error on access
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError, OSError, SyntaxError) as e:
        sys.exit(f"config error: {_describe(e, argv)}")
    needs_config = _MODE.value in ("train", "prepare")
    if (needs_config and _CONFIG.value is None) or _WORKDIR.value is None:
        sys.exit("usage: python -m speecheq_jax.main --config configs/NAME.py[:ARG] --workdir DIR [--mode ...] "
                 "(evaluate, predict, export: --workdir DIR alone)")
    return rest


def _describe(error: Exception, argv: list[str]) -> str:
    """One line for a config error; an unknown key names the override that used it."""
    message = " ".join(str(error).replace("\\n", " ").split())
    if isinstance(error, (AttributeError, KeyError)):
        names = re.findall(r"instead of \"(\w+)\"", message) or re.findall(r"(\w+)", message)[:1]
        hint = re.search(r"Did you mean \"\w+\"", message)
        hint = f" {hint.group(0)}?" if hint else ""
        for arg in argv:
            path = arg.split("=", 1)[0].removeprefix("--config.")
            if arg.startswith("--config.") and names and names[0] in path.split("."):
                return f"unknown config key {path!r} (in {arg}).{hint}"
        return f"unknown config key {names[0] if names else message!r}.{hint}"
    return f"{type(error).__name__}: {message}"


def _initialize_distributed() -> None:
    """jax.distributed on multi-host platforms; nothing on one machine.

    The launchers say so through the environment: launch/tpu_vm.sh sets
    JAX_COORDINATOR_ADDRESS (worker 0; JAX finds the process count and ids on
    the slice), launch/gpu_multinode.sh, launch/slurm_gpu.sbatch and the tests'
    local processes set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and
    JAX_PROCESS_ID; a TPU VM environment that lists several TPU_WORKER_HOSTNAMES
    is initialised by JAX's own detection.
    """
    env = os.environ
    if env.get("JAX_COORDINATOR_ADDRESS"):
        jax.distributed.initialize(
            num_processes=int(env["JAX_NUM_PROCESSES"]) if "JAX_NUM_PROCESSES" in env else None,
            process_id=int(env["JAX_PROCESS_ID"]) if "JAX_PROCESS_ID" in env else None)
    elif "," in env.get("TPU_WORKER_HOSTNAMES", ""):
        jax.distributed.initialize()


def _enable_compilation_cache() -> None:
    """Persistent compilation cache for every mode, unless the environment already names one."""
    if not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", os.path.expanduser("~/.cache/speecheq_jax/xla"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def _quiet_libraries(record: logging.LogRecord) -> bool:
    """Keeps TFDS's per-open 'custom data configuration' chatter out of the run log."""
    return record.levelno >= logging.ERROR or "tensorflow_datasets" not in record.pathname


def main(argv: list[str]) -> None:
    if len(argv) > 1 and _MODE.value != "predict":
        sys.exit(f"unexpected arguments {argv[1:]}")
    if (_FOLD.value or _AGGREGATE_ONLY.value) and _MODE.value != "crossval":
        sys.exit("--fold and --aggregate_only belong to --mode crossval")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("absl").setLevel(logging.WARNING)
    logging.getLogger("absl").addFilter(_quiet_libraries)
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # "Unable to initialize backend 'tpu'"
    storage.use_emulator()  # before any storage client starts
    _initialize_distributed()
    _enable_compilation_cache()
    logging.info(allocator.describe())
    config, workdir = _CONFIG.value, _WORKDIR.value
    try:
        _run_mode(config, workdir, argv)
    except ConfigError as e:
        sys.exit(f"config error: {e}")
    except DataError as e:  # the user's data, not a bug: one line, exit code 1
        sys.exit(f"data error: {e}")


def _run_mode(config: ml_collections.ConfigDict, workdir: str, argv: list[str]) -> None:
    if _MODE.value == "prepare":
        if jax.process_count() > 1:  # every process would write the same dataset and race on its rename
            sys.exit("--mode prepare runs in one process, not in a multi-host job (docs/howto/scale-out.md)")
        from speecheq_jax.prep.prepare import prepare_all
        prepare_all(config.data)
    elif _MODE.value in ("train", "crossval"):
        from speecheq_jax.jobs.crossval import crossval
        from speecheq_jax.jobs.train_and_evaluate import train_and_evaluate
        from speecheq_jax.train.finite import NonFiniteLossError
        try:
            if _MODE.value == "train":
                train_and_evaluate(config, workdir)
            else:
                crossval(config, workdir, only=_FOLD.value, aggregate_only=_AGGREGATE_ONLY.value)
        except NonFiniteLossError as e:
            sys.exit(f"training stopped: {e}")
    else:
        try:
            _use_checkpoint(config, workdir, argv[1:])
        except FileNotFoundError as e:  # no checkpoint, no input, data not prepared: the message says which
            sys.exit(f"error: {e}")


def _use_checkpoint(config: ml_collections.ConfigDict, workdir: str, extra_inputs: list[str]) -> None:
    """--mode evaluate, export or predict on the checkpoint named by --checkpoint."""
    if _MODE.value == "evaluate":
        from speecheq_jax.jobs.evaluate_checkpoint import evaluate_checkpoint
        evaluate_checkpoint(config, workdir, _CHECKPOINT.value)
    elif _MODE.value == "export":
        from speecheq_jax.jobs.export_run import export_run
        export_run(config, workdir, _CHECKPOINT.value)
    else:
        from speecheq_jax.jobs.predict_files import predict_files
        inputs = list(_INPUT.value) + extra_inputs
        if not inputs:
            sys.exit("--mode predict needs --input PATH (audio files or directories)")
        output = _OUTPUT.value or os.path.join(workdir, "predictions.jsonl")
        predict_files(config, workdir, inputs, output, checkpoint=_CHECKPOINT.value, timeline=_TIMELINE.value)


if __name__ == "__main__":
    app.run(main, flags_parser=_parse_flags)
