"""Evaluating a run: one split with a live state, or any saved checkpoint.

`evaluate_checkpoint` is what `--mode evaluate` and the end of training call:
it restores 'best' (by validation metric), 'latest' or a step number onto the
devices of THIS machine (a run trained on 8 devices evaluates on 1), scores
the splits, and writes metrics.json, the Markdown report and the plots.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import ml_collections
from jax.sharding import Mesh

from speecheq_jax.data import pipeline
from speecheq_jax.eval.evaluate import evaluate
from speecheq_jax.eval.report import write_report
from speecheq_jax.train import checkpoint as checkpoint_lib
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import state as state_lib
from speecheq_jax.train import step as step_lib

log = logging.getLogger(__name__)


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
                   categories: Sequence[str]) -> dict:
    """Metrics of `state` on one split ('valid' or 'test') of the configured corpora.

    `categories`: the run's label set (`DataSpec.categories`).
    """
    batches, records = pipeline.make_eval_iterator(config.data, split, mesh)
    metrics, _ = evaluate(eval_step, state, batches, records, categories=categories, desc=split)
    return metrics


def write_label_mapping(workdir: Path, spec: pipeline.DataSpec) -> None:
    """Logs and writes the run's label set and each corpus's mapping, exclusions and counts (never implicit).

    label_mapping.json: {"categories": the category head's classes in output
    order, "corpora": {corpus: {mapping, excluded, category_counts, ...}}}.
    """
    log.info("category label set (%d classes, head output order): %s", len(spec.categories), ", ".join(spec.categories))
    for corpus, summary in spec.label_summary.items():
        log.info("label mapping %s: %s", corpus, ", ".join(f"{k}->{v}" for k, v in summary["mapping"].items()))
        if summary["excluded"]:
            log.info("excluded from %s: %s", corpus, ", ".join(f"{k}: {v}" for k, v in summary["excluded"].items()))
        log.info("category counts %s: %s", corpus, summary["category_counts"])
    content = {"categories": list(spec.categories), "corpora": spec.label_summary}
    (Path(workdir) / "label_mapping.json").write_text(json.dumps(content, indent=2, ensure_ascii=False))


@dataclasses.dataclass(frozen=True)
class Restored:
    """A checkpoint restored onto this machine's devices, ready for the eval step."""

    mesh: Mesh
    spec: pipeline.DataSpec
    state: Any
    step: int
    eval_step: Callable


def restore_for_eval(config: ml_collections.ConfigDict, workdir: str | Path, which: str | int) -> Restored:
    """Restores 'best', 'latest' or a step onto a mesh over the local devices."""
    mesh = mesh_lib.make_mesh(config)
    spec = pipeline.load_spec(config.data)
    target = state_lib.abstract_train_state(config, len(spec.vocab), len(spec.categories), mesh)
    ckpt = checkpoint_lib.Checkpointer(workdir, best_metric=checkpoint_lib.best_metric_name(config))
    step = ckpt.resolve(which)
    state = ckpt.restore(step, target)
    ckpt.close()
    log.info("restored checkpoint %s (step %d) from %s onto %d device(s)", which, step, workdir, mesh.size)
    return Restored(mesh, spec, state, step, step_lib.make_eval_step(target, config, mesh))


def evaluate_checkpoint(config: ml_collections.ConfigDict, workdir: str | Path, which: str | int = "best",
                        splits: tuple[str, ...] = ("valid", "test")) -> dict:
    """Restores a checkpoint onto this machine's devices, scores `splits`, writes the report.

    Returns:
      {'step': int, 'checkpoint': which, split: metrics, ...}.
    """
    workdir = Path(workdir)
    restored = restore_for_eval(config, workdir, which)
    eval_step, state, spec, mesh, step = (restored.eval_step, restored.state, restored.spec, restored.mesh,
                                          restored.step)
    results: dict[str, Any] = {"step": step, "checkpoint": str(which)}
    for split in splits:
        results[split] = evaluate_split(eval_step, state, config, mesh, split, spec.categories)
    if jax.process_index() == 0:
        history = workdir / "metrics.jsonl"
        write_report(
            workdir, results, history_path=history if history.exists() else None,
            label_mapping={c: v["mapping"] for c, v in spec.label_summary.items()}, categories=spec.categories,
            title=f"{config.name}: checkpoint {which} (step {step})")
    return results
