"""The training loop: `train_and_evaluate(config, workdir)`.

Separate from the compiled step (train/step.py): the loop feeds batches,
collects the step's device metrics, and only at logging boundaries moves them
to the host, checks them for NaN/Inf, and writes them. Validation runs every
`train.eval_every` steps; each validation is followed by a checkpoint saved
with its metrics, so the best step by the validation metric is kept beside
the latest ones. Every `train.checkpoint_every` steps a checkpoint without
metrics is saved too (kept among the latest, never chosen as best). Before
any checkpoint the metrics of every step since the last check are moved to
the host and checked, so a non-finite state is never saved. At the end the
best checkpoint (by VALIDATION, never test) is evaluated on the test split
and the report is written.

Preemption (`Preemption`): SIGTERM, or JAX's preemption notice on multi-host,
makes the loop save a checkpoint at the step it reached and return None.
Restarting the same command resumes from the latest checkpoint: parameters,
optimizer, and the data iterator's position.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np
import psutil
from flax import nnx
from jax.experimental import multihost_utils
from tqdm import tqdm

from speecheq_jax.data import pipeline
from speecheq_jax.data.prepare import prepare_all
from speecheq_jax.eval import run as eval_run
from speecheq_jax.model.params import count_params
from speecheq_jax.model_card import build_card, write_card
from speecheq_jax.train import accumulation
from speecheq_jax.train import checkpoint as checkpoint_lib
from speecheq_jax.train import compile_ahead
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import state as state_lib
from speecheq_jax.train import step as step_lib
from speecheq_jax.train.metric_writer import MetricWriter, format_line

log = logging.getLogger(__name__)
_CONSOLE_KEYS = ("train/loss", "train/loss_category", "train/loss_intensity", "train/loss_phoneme",
                 "train/loss_gender", "train/examples_per_s", "train/data_wait", "train/cores_busy")


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or Inf; the message names the step and the last good checkpoint."""


class _Window:
    """Wall time, CPU time and time spent waiting for the input pipeline since the last log.

    `data_wait` (share of wall time the loop waited in `next(train_iter)`) near 0 says the step,
    not the input, is the bottleneck; `cores_busy` (process CPU seconds per wall second) says how
    many of the machine's cores the run kept busy.
    """

    def __init__(self):
        self.process = psutil.Process()
        self.reset()

    def reset(self) -> None:
        self.start, self.cpu_start, self.data_wait = time.perf_counter(), self._cpu(), 0.0

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def next_batch(self, iterator):
        start = time.perf_counter()
        batch = next(iterator)
        self.data_wait += time.perf_counter() - start
        return batch

    def summarize(self, host: list[dict]) -> dict[str, float]:
        """Host metrics of the steps since the last log -> means, throughput and utilisation."""
        seconds = max(time.perf_counter() - self.start, 1e-9)
        keys = host[0].keys()
        out = {f"train/{k}": float(np.mean([m[k] for m in host]))
               for k in keys if not k.startswith(("frames", "examples"))}
        out["train/examples_per_s"] = sum(float(m["examples"]) for m in host) / seconds
        out["train/frames_per_s"] = sum(float(m["frames"]) for m in host) / seconds
        out["train/data_wait"] = self.data_wait / seconds
        out["train/cores_busy"] = (self._cpu() - self.cpu_start) / seconds
        return out


def _check_finite(host_metrics: list[dict], first_step: int, last_good: int | None, workdir: Path) -> None:
    for offset, metrics in enumerate(host_metrics):
        bad = {k: float(v) for k, v in metrics.items() if not np.isfinite(v)}
        if bad:
            where = f"step {last_good} in {workdir / 'checkpoints'}" if last_good else "none saved yet"
            raise NonFiniteLossError(
                f"non-finite training metrics at step {first_step + offset}: {bad}. "
                f"Training stopped; last good checkpoint: {where}.")


class Preemption:
    """Whether training must stop now: SIGTERM on one process, JAX's preemption sync point on several.

    One process: a SIGTERM handler only sets a flag (no work inside a signal handler); the loop reads
    it between steps. Several processes: each may get the notice at a different step, so they
    agree through `multihost_utils.reached_preemption_sync_point(step)`, which the loop calls at
    every step and which is True at the same step on every process; JAX's preemption sync
    manager (set up by `jax.distributed.initialize` while `jax_enable_preemption_service` is on,
    the default) listens for SIGTERM itself. With that service turned off nothing is installed and
    SIGTERM ends the processes as it would without this class. Use as a context manager around the
    training steps only: before the first step there is nothing to save, and after the last the
    default handler is back.
    """

    def __init__(self):
        self.multihost = jax.process_count() > 1
        self.enabled = not self.multihost or bool(jax.config.jax_enable_preemption_service)
        self._notified = threading.Event()
        self._previous = None

    def __enter__(self) -> "Preemption":
        if self.multihost and not self.enabled:
            log.warning("jax_enable_preemption_service is off: SIGTERM will stop training without a checkpoint")
        elif not self.multihost and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, lambda signum, frame: self._notified.set())
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def reached(self, step: int) -> bool:
        """Called once per step, on every process, after `step` ran: save at `step` and stop?"""
        if self.multihost:
            return self.enabled and multihost_utils.reached_preemption_sync_point(step)
        return self._notified.is_set()


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict | None:
    """Trains, validates, checkpoints; returns the test metrics of the best checkpoint.

    Returns None when preempted: a checkpoint at the step reached is saved and rerunning the same
    command resumes from it.
    """
    accumulation.check_schedule(config)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))
    if jax.process_index() == 0:
        prepare_all(config.data)
    multihost_utils.sync_global_devices("datasets prepared")
    mesh = mesh_lib.make_mesh(config)
    spec = pipeline.load_spec(config.data)
    eval_run.write_label_mapping(workdir, spec)
    card = build_card(config, spec)
    if jax.process_index() == 0:
        write_card(card, workdir)
    train_state = state_lib.create_train_state(config, len(spec.vocab), len(spec.categories), mesh)
    trainable, _ = nnx.merge(train_state.eval_def, train_state.state)
    log.info("model %s: %s parameters; mesh %s", config.model.size, f"{count_params(trainable.model):,}", dict(mesh.shape))

    train_iter = pipeline.make_train_iterator(config.data, mesh)
    ckpt = checkpoint_lib.Checkpointer(
        workdir, keep_latest=config.train.keep_latest, keep_best=config.train.keep_best,
        best_metric=checkpoint_lib.best_metric_name(config))
    state = train_state.state
    start = ckpt.latest_step() or 0
    if start:
        log.info("resuming from step %d", start)
        target = state_lib.abstract_train_state(config, len(spec.vocab), len(spec.categories), mesh)
        state = ckpt.restore(start, target, train_iter)
    accumulate = int(config.optim.accumulate)
    train_step = compile_ahead.CompiledStep(
        step_lib.make_train_step(train_state, config, mesh), train_state.state, mesh, "train step",
        group_totals=accumulate > 1)
    eval_step = compile_ahead.CompiledStep(
        step_lib.make_eval_step(train_state, config, mesh), train_state.state, mesh, "eval step")
    shapes = compile_ahead.bucket_shapes(config.data.batch_size, config.data.buckets)
    show = jax.process_index() == 0
    train_step.precompile(shapes, show_progress=show)
    eval_step.precompile(shapes, show_progress=show)
    batches = accumulation.grouped(train_iter, accumulate)
    writer = MetricWriter(workdir, enabled=jax.process_index() == 0)

    num_steps = int(config.train.num_steps)
    last_good = start or None
    pending: list[dict] = []
    window, window_step = _Window(), start + 1
    train_start = time.perf_counter()
    bar = tqdm(total=num_steps, initial=start, desc="train", unit="step", disable=jax.process_index() != 0)
    notified = False
    with Preemption() as preemption:
        for step in range(start + 1, num_steps + 1):
            state, metrics = train_step(state, window.next_batch(batches))
            pending.append(metrics)
            bar.update(1)
            at_eval = step % config.train.eval_every == 0 or step == num_steps
            # Sticky until a whole update: `grouped` reads an accumulation group's batches ahead.
            notified = preemption.reached(step) or notified
            preempted = notified and step % accumulate == 0
            save = at_eval or preempted or step % config.train.checkpoint_every == 0
            if step % config.train.log_every == 0 or save:  # never save an unchecked state
                host = jax.device_get(pending)
                _check_finite(host, window_step, last_good, workdir)
                scalars = window.summarize(host)
                writer.write(step, scalars)
                bar.set_postfix(loss=f"{scalars['train/loss']:.3f}")
                log.info(format_line(step, scalars, _CONSOLE_KEYS))
                pending, window_step = [], step + 1
                window.reset()
            if at_eval:
                valid = eval_run.evaluate_split(eval_step, state, config, mesh, "valid", spec.categories, step=step)
                scalars = eval_run.flatten(valid, prefix="valid")
                writer.write(step, scalars)
                ckpt.save(step, state, train_iter, scalars, card)
            elif save:
                ckpt.save(step, state, train_iter, None, card)
            if save:
                last_good = step
                window.reset()  # throughput and utilisation figures are of training steps only
            if preempted:
                break
    bar.close()
    reached = step if start < num_steps else start
    log.info("train: steps %d-%d in %.1f s", start + 1, reached, time.perf_counter() - train_start)
    writer.close()
    ckpt.close()
    if reached < num_steps:
        log.warning("preempted: checkpoint saved at step %d; rerun the same command to resume", reached)
        return None
    return eval_run.evaluate_checkpoint(config, workdir, "best", splits=("valid", "test"))
