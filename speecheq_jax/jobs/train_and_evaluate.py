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

Preemption (`train.preemption.Preemption`): SIGTERM, or JAX's preemption notice on multi-host,
makes the loop save a checkpoint at the step it reached and return None.
Restarting the same command resumes from the latest checkpoint: parameters,
optimizer, and the data iterator's position. A resumed run restores straight
into the abstract state (shapes and shardings, no arrays): only a fresh run
initialises parameters, so the state is on the devices once, never twice.
"""

from __future__ import annotations

import json
import logging
import time

import jax
import ml_collections
import orbax.checkpoint as ocp
from flax import nnx
from jax.sharding import Mesh
from tqdm import tqdm

from speecheq_jax import storage
from speecheq_jax.heads import head_names
from speecheq_jax.input import pipeline
from speecheq_jax.jobs import evaluate_checkpoint as evaluate_lib
from speecheq_jax.model.params import count_params
from speecheq_jax.model_card import build_card, write_card
from speecheq_jax.prep.multihost import prepare_or_refuse
from speecheq_jax.train import accumulation, compile_ahead
from speecheq_jax.train import checkpoint as checkpoint_lib
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import state as state_lib
from speecheq_jax.train import step as step_lib
from speecheq_jax.train.finite import check_finite
from speecheq_jax.train.metric_writer import MetricWriter, format_line
from speecheq_jax.train.preemption import Preemption
from speecheq_jax.train.throughput import ThroughputWindow

log = logging.getLogger(__name__)


def _console_keys() -> tuple[str, ...]:
    """The train metrics a console log line shows: the losses of every registered head, throughput."""
    return ("train/loss", *(f"train/loss_{head}" for head in head_names()), "train/examples_per_s",
            "train/data_wait", "train/cores_busy")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: storage.PathLike) -> dict | None:
    """Trains, validates, checkpoints; returns the test metrics of the best checkpoint.

    Returns None when preempted: a checkpoint at the step reached is saved and rerunning the same
    command resumes from it.
    """
    accumulation.check_schedule(config)
    workdir = storage.as_path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))
    prepare_or_refuse(config.data)  # multi-host: refused, on every process, unless already prepared
    mesh = mesh_lib.make_mesh(config)
    spec = pipeline.load_spec(config.data)
    write_label_mapping(workdir, spec)
    card = build_card(config, spec)
    if jax.process_index() == 0:
        write_card(card, workdir)
    # Static parts only (graph definitions, shardings, abstract arrays): the steps close over this,
    # so no concrete state outlives its donation to the first step.
    abstract = state_lib.abstract_train_state(config, len(spec.vocab), len(spec.categories), mesh)
    trainable, _ = nnx.merge(abstract.eval_def, abstract.state)
    log.info("model %s: %s parameters; mesh %s", config.model.size, f"{count_params(trainable.model):,}", dict(mesh.shape))

    train_iter = pipeline.make_train_iterator(config.data, mesh)
    ckpt = checkpoint_lib.Checkpointer(
        workdir, keep_latest=config.train.keep_latest, keep_best=config.train.keep_best,
        best_metric=checkpoint_lib.best_metric_name(config), asynchronous=True)
    try:
        reached = _train(config, workdir, ckpt, abstract, mesh, spec, card, train_iter)
    finally:
        ckpt.close()  # waits for the last asynchronous save (also when a non-finite loss stops the run)
    num_steps = int(config.train.num_steps)
    if reached < num_steps:
        log.warning("preempted: checkpoint saved at step %d; rerun the same command to resume", reached)
        return None
    return evaluate_lib.evaluate_checkpoint(config, workdir, "best", splits=("valid", "test"))


def _train(config: ml_collections.ConfigDict, workdir: storage.AnyPath, ckpt: checkpoint_lib.Checkpointer,
           abstract: state_lib.TrainState, mesh: Mesh, spec: pipeline.DataSpec, card: dict, train_iter) -> int:
    """Compiles every shape, then trains from the latest checkpoint to `num_steps` or a preemption.

    Saves are asynchronous: `ckpt.save` returns once the (finite-checked) state is on the host, and
    the write overlaps the next steps. Returns the last step reached.
    """
    start = ckpt.latest_step() or 0
    if start:
        log.info("resuming from step %d", start)
        state = ckpt.restore(start, abstract, train_iter)
    else:
        state = state_lib.init_train_state(config, len(spec.vocab), len(spec.categories), abstract)
    accumulate = int(config.optim.accumulate)
    train_step = compile_ahead.CompiledStep(
        step_lib.make_train_step(abstract, config, mesh), abstract.state, mesh, "train step",
        group_totals=accumulate > 1)
    eval_step = compile_ahead.CompiledStep(
        step_lib.make_eval_step(abstract, config, mesh), abstract.state, mesh, "eval step")
    shapes = compile_ahead.bucket_shapes(config.data.batch_size, spec.buckets, spec.layout)
    show = jax.process_index() == 0
    train_step.precompile(shapes, show_progress=show)
    eval_step.precompile(shapes, show_progress=show)
    # Processes compile at their own pace, and on CPU the first step's collectives (gloo) give the others
    # 30 s to join: every process waits here, at the coordination service (no collective), until all compiled.
    ocp.multihost.sync_global_processes("compiled", processes=set(range(jax.process_count())))
    batches = accumulation.grouped(train_iter, accumulate)
    writer = MetricWriter(workdir, enabled=jax.process_index() == 0)

    num_steps = int(config.train.num_steps)
    last_good = start or None
    pending: list[dict] = []
    window, window_step = ThroughputWindow(), start + 1
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
                check_finite(host, window_step, last_good, workdir)
                scalars = window.summarize(host)
                writer.write(step, scalars)
                bar.set_postfix(loss=f"{scalars['train/loss']:.3f}")
                log.info(format_line(step, scalars, _console_keys()))
                pending, window_step = [], step + 1
                window.reset()
            if at_eval:
                valid = evaluate_lib.evaluate_split(eval_step, state, config, mesh, "valid", spec.categories, step=step)
                scalars = evaluate_lib.flatten(valid, prefix="valid")
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
    return reached


def write_label_mapping(workdir: storage.PathLike, spec: pipeline.DataSpec) -> None:
    """Logs and writes the run's label set and each corpus's mapping, exclusions (files named) and counts.

    label_mapping.json: {"categories": the category head's classes in output
    order, "corpora": {corpus: {mapping, excluded, excluded_files, category_counts, ...}}}.
    """
    log.info("category label set (%d classes, head output order): %s", len(spec.categories), ", ".join(spec.categories))
    for corpus, summary in spec.label_summary.items():
        log.info("label mapping %s: %s", corpus, ", ".join(f"{k}->{v}" for k, v in summary["mapping"].items()))
        if summary["excluded"]:
            log.info("excluded from %s: %s", corpus, ", ".join(f"{k}: {v}" for k, v in summary["excluded"].items()))
        for exclusion in summary.get("excluded_files", ()):
            log.info("excluded from %s: %s: %s %s", corpus, exclusion["file"], exclusion["reason"],
                     exclusion["detail"])
        log.info("category counts %s: %s", corpus, summary["category_counts"])
    content = {"categories": list(spec.categories), "corpora": spec.label_summary}
    (storage.as_path(workdir) / "label_mapping.json").write_text(json.dumps(content, indent=2, ensure_ascii=False))
