"""The training loop: `train_and_evaluate(config, workdir)`.

Separate from the compiled step (train/step.py): the loop feeds batches,
collects the step's device metrics, and only at logging boundaries moves them
to the host, checks them for NaN/Inf, and writes them. Validation runs every
`train.eval_every` steps; each validation is followed by a checkpoint saved
with its metrics, so the best step by the validation metric is kept beside
the latest ones. At the end the best checkpoint (by VALIDATION, never test)
is evaluated on the test split and the report is written.

Restarting the same command resumes from the latest checkpoint: parameters,
optimizer, and the data iterator's position.
"""

from __future__ import annotations

import logging
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
from speecheq_jax.model import count_params
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


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> dict:
    """Trains, validates, checkpoints; returns the test metrics of the best checkpoint."""
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
    for step in range(start + 1, num_steps + 1):
        state, metrics = train_step(state, window.next_batch(batches))
        pending.append(metrics)
        bar.update(1)
        at_eval = step % config.train.eval_every == 0 or step == num_steps
        if step % config.train.log_every == 0 or at_eval:
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
            last_good = step
            window.reset()  # throughput and utilisation figures are of training steps only
    bar.close()
    log.info("train: steps %d-%d in %.1f s", start + 1, num_steps, time.perf_counter() - train_start)
    writer.close()
    ckpt.close()
    return eval_run.evaluate_checkpoint(config, workdir, "best", splits=("valid", "test"))
