"""Evaluating a run: one split with a live state, or any saved checkpoint.

`evaluate_checkpoint` is what `--mode evaluate` and the end of training call:
it restores 'best' (by validation metric), 'latest' or a step number onto the
devices of THIS machine (a run trained on 8 devices evaluates on 1), scores
the splits, and writes metrics.json, the Markdown report and the plots.
What the data was (vocabulary, CMVN, label mapping) comes from the model card
saved with the checkpoint, so restoring needs no prepared data: evaluation
opens only the splits it scores, prediction nothing. What the model is (its
size, heads, everything the training config said) comes from the config
stored in that card too (`checkpoint_config`): the command line only names the
run and the checkpoint, and may move the data or change the mesh and batch size
for this machine (`LOCAL_FIELDS`). This is where the training side
(checkpoint, mesh, state, step) meets the evaluation side (metrics, reports),
so that neither package imports the other.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import ml_collections
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from speecheq_jax import model_card, storage
from speecheq_jax.eval.evaluator import evaluate
from speecheq_jax.eval.report import write_report
from speecheq_jax.heads import head_specs
from speecheq_jax.input import pipeline
from speecheq_jax.model_card import build_card, check_format
from speecheq_jax.run_config import ConfigError
from speecheq_jax.train import checkpoint as checkpoint_lib
from speecheq_jax.train import compile_ahead
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import state as state_lib
from speecheq_jax.train import step as step_lib

log = logging.getLogger(__name__)
RUN_CONFIG_FILE = "config.json"
"""The training config as the run started, in its workdir (train_and_evaluate writes it)."""
LOCAL_FIELDS = ("mesh", "data.data_dir", "data.batch_size", "data.worker_count")
"""What a config given on the command line may change of a stored run: where its data lies and how this
machine runs it. Everything else (model, heads, labels, corpora) is the checkpoint's."""


def _summary_keys() -> tuple[str, ...]:
    """The metrics a split's log line shows: EQ, then each registered head's headline columns."""
    return ("eq", *(column.key for spec in head_specs() for column in spec.headline_columns))


def stored_run_config(workdir: storage.PathLike, local: ml_collections.ConfigDict | None = None) -> ml_collections.ConfigDict:
    """The run's training config from `<workdir>/config.json` (with `local`'s `LOCAL_FIELDS`), else `local`.

    Differences of `local` in what the run defines (model, tasks, corpora, label options) are
    logged as ignored. A ConfigError names the file when there is neither.
    """
    path = storage.as_path(workdir) / RUN_CONFIG_FILE
    if not path.is_file():
        if local is None:
            raise ConfigError(f"{path} does not exist: is {workdir} a run directory? (or pass --config)")
        return local
    stored = json.loads(path.read_text())
    if local is None:
        return ml_collections.ConfigDict(stored)
    ignored = [key for key in ("name", "model", "tasks", "data.corpora", "data.label_options")
               if _as_json(_get(local.to_dict(), key)) != _as_json(_get(stored, key))]
    if ignored:
        log.warning("the checkpoint's run defines %s: the command line's differing values are ignored",
                    ", ".join(ignored))
    return with_local_fields(stored, local)


def with_local_fields(stored: dict[str, Any], local: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """A stored config (plain dict) with `LOCAL_FIELDS` taken from `local`."""
    config = ml_collections.ConfigDict(stored)
    for field in LOCAL_FIELDS:
        *parents, name = field.split(".")
        source, target = local, config
        for parent in parents:
            source, target = source[parent], target[parent]
        target[name] = source[name]
    return config


def _get(tree: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


def _as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def flatten(tree: dict[str, Any], prefix: str) -> dict[str, float]:
    """Nested metrics -> {'prefix/a/b': float} for float metrics (counts, flags, lists skipped)."""
    out: dict[str, float] = {}
    for key, value in tree.items():
        name = f"{prefix}/{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name))
        elif isinstance(value, float):
            out[name] = float(value)
    return out


def evaluate_split(eval_step, state, config: ml_collections.ConfigDict, mesh, split: str,
                   categories: Sequence[str], step: int | None = None) -> dict:
    """Metrics of `state` on one split ('valid' or 'test'); logs one summary line (naming `step` if given).

    `categories`: the run's label set (`DataSpec.categories`).
    """
    start = time.perf_counter()
    batches, records = pipeline.make_eval_iterator(config.data, split, mesh)
    metrics, _ = evaluate(eval_step, state, batches, records, categories=categories, desc=split)
    overall = metrics["overall"]
    log.info("%s%s: %d examples in %.1f s | %s", "" if step is None else f"step {step} ", split, overall["n"],
             time.perf_counter() - start,
             " | ".join(f"{key} {overall[key]:.4g}" for key in _summary_keys() if key in overall))
    return metrics


def spec_from_card(card: dict[str, Any]) -> pipeline.DataSpec:
    """The DataSpec a run was trained with, from its model card (no prepared data read)."""
    def stats(values: dict) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(values["mean"], np.float32), np.asarray(values["std"], np.float32)

    return pipeline.DataSpec(
        vocab=tuple(card["phonemes"]),
        categories=tuple(card["labels"]["categories"]),
        corpora=tuple(entry["corpus"] for entry in card["training_data"]),
        cmvn={name: stats(values) for name, values in card["cmvn"]["corpora"].items()},
        pooled_cmvn=stats(card["cmvn"]["pooled"]),
        buckets=tuple(card["buckets"]),
        label_summary={entry["corpus"]: entry["labels"] for entry in card["training_data"]},
        layout=model_card.feature_layout(card),
    )


@dataclasses.dataclass(frozen=True)
class Restored:
    """A checkpoint restored onto this machine's devices, ready for the eval step.

    `config` is the config it was trained with (this machine's `LOCAL_FIELDS`), `card` its model
    card and `spec` the DataSpec made from it; `eval_def` merged with `state` gives the
    (Trainable, optimizer) in eval mode.
    """

    config: ml_collections.ConfigDict
    mesh: Mesh
    spec: pipeline.DataSpec
    card: dict[str, Any]
    state: Any
    step: int
    eval_step: Callable
    eval_def: nnx.GraphDef


def restore_for_eval(config: ml_collections.ConfigDict | None, workdir: storage.PathLike, which: str | int) -> Restored:
    """Restores 'best', 'latest' or a step onto a mesh over the local devices.

    The model is built from the config stored in the checkpoint's model card;
    `config` (the command line's, or None) only supplies `LOCAL_FIELDS`. The data
    description comes from the card too; only a checkpoint saved without one
    (older runs) needs the prepared data to rebuild it.
    """
    run_config = stored_run_config(workdir, config)
    ckpt = checkpoint_lib.Checkpointer(workdir, best_metric=checkpoint_lib.best_metric_name(run_config))
    step = ckpt.resolve(which)
    card = ckpt.model_card(step)
    if card is None:
        card = build_card(run_config, pipeline.load_spec(run_config.data))
    card = check_format(card, f"{workdir} checkpoint {step}")
    config = with_local_fields(card["config"], run_config)
    mesh = mesh_lib.make_mesh(config)
    spec = spec_from_card(card)
    target = state_lib.abstract_train_state(config, len(spec.vocab), len(spec.categories), mesh)
    state = ckpt.restore(step, target)
    ckpt.close()
    log.info("restored checkpoint %s (step %d) from %s onto %d device(s)", which, step, workdir, mesh.size)
    eval_step = compile_ahead.CompiledStep(step_lib.make_eval_step(target, config, mesh), target.state, mesh, "eval step")
    return Restored(config, mesh, spec, card, state, step, eval_step, target.eval_def)


def evaluate_checkpoint(config: ml_collections.ConfigDict | None, workdir: storage.PathLike, which: str | int = "best",
                        splits: tuple[str, ...] = ("valid", "test")) -> dict:
    """Restores a checkpoint onto this machine's devices, scores `splits`, writes the report.

    `config`: the command line's (only its `LOCAL_FIELDS` apply) or None.

    Returns:
      {'step': int, 'checkpoint': which, split: metrics, ...}.
    """
    workdir = storage.as_path(workdir)
    restored = restore_for_eval(config, workdir, which)
    config = restored.config
    eval_step, state, spec, mesh, step = (restored.eval_step, restored.state, restored.spec, restored.mesh,
                                          restored.step)
    eval_step.precompile(compile_ahead.bucket_shapes(config.data.batch_size, spec.buckets, spec.layout),
                         show_progress=jax.process_index() == 0)
    results: dict[str, Any] = {"step": step, "checkpoint": str(which)}
    for split in splits:
        results[split] = evaluate_split(eval_step, state, config, mesh, split, spec.categories)
    if jax.process_index() == 0:
        history = workdir / "metrics.jsonl"
        write_report(
            workdir, results, history_path=history if history.exists() else None,
            label_mapping={c: v["mapping"] for c, v in spec.label_summary.items()}, categories=spec.categories,
            exclusions={c: v.get("excluded_files", []) for c, v in spec.label_summary.items()},
            title=f"{config.name}: checkpoint {which} (step {step})")
    return results
