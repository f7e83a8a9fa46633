"""Orbax checkpoints: the latest N for resume AND the best N by a validation metric.

Orbax's `max_to_keep` together with `best_fn` keeps the N best and may delete
the newest step, so a run could not resume. The preservation
policy here is explicit: keep a step if it is among the latest
`keep_latest` OR among the best `keep_best` by `best_metric`. Steps saved
without metrics (`train.checkpoint_every`, preemption) count among the
latest only: they are never "best".

Each step directory holds the train state (model, task log-variances,
optimizer), the training iterator's state (Grain, so a resumed run sees
exactly the batches it would have seen), the validation metrics the step
was selected on, and the run's model card (speecheq_jax/model_card.py) in the
step's custom metadata, so a checkpoint alone is enough to predict. Restores
always go through an abstract target that carries the target shardings, so a
state saved on 8 devices restores onto 1.

Which direction is "best" follows from the metric (`metric_mode`): PER, MAE
and losses are minimised, accuracies, F1, CCC and EQ maximised. The default
metric (`train.best_metric = "auto"`) is one the run computes whatever heads
it has (`best_metric_name`), and a configured metric the run does not compute
is a one-line error at the first validation, before anything is saved.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import grain
import ml_collections
import orbax.checkpoint as ocp

from speecheq_jax.config import ConfigError

from speecheq_jax.train.state import TrainState

logging.getLogger("absl").setLevel(logging.WARNING)

AUTO = "auto"
_LOWER_IS_BETTER = frozenset({"per", "mae"})
_HIGHER_IS_BETTER = frozenset({"ua", "wa", "macro_f1", "f1", "ccc", "eq", "accuracy", "native_accuracy"})


class BestMetricError(ConfigError):
    """`train.best_metric` cannot select checkpoints (unknown direction, or not computed by the run)."""


def metric_mode(name: str) -> str:
    """'min' or 'max': the direction in which a flattened metric name improves.

    E.g. 'valid/overall/phoneme/per', 'valid/loss/category',
    'valid/overall/intensity/mae' -> 'min'; 'valid/overall/category/ua',
    'valid/overall/eq@2', 'valid/corpora/cremad/intensity/ccc',
    'valid/overall/gender/accuracy' -> 'max'.
    """
    parts = name.split("/")
    last = parts[-1]
    if "loss" in parts or last.startswith("loss") or last in _LOWER_IS_BETTER:
        return "min"
    if last in _HIGHER_IS_BETTER or re.fullmatch(r"eq@\d+", last):
        return "max"
    raise BestMetricError(f"train.best_metric={name!r}: no known direction for {last!r}; lower is better for "
                          f"{sorted(_LOWER_IS_BETTER)} and losses, higher for {sorted(_HIGHER_IS_BETTER)} and eq@k")


def best_metric_name(config: ml_collections.ConfigDict) -> str:
    """`train.best_metric`, with "auto" resolved from the run's heads.

    "auto": validation UA when the run has a category head (the emotion
    task the model exists for); otherwise the validation loss of its first
    head (intensity, phoneme, gender order), which every run with that head
    computes.
    """
    name = str(config.train.best_metric)
    if name != AUTO:
        return name
    heads = tuple(config.model.heads)
    if "category" in heads:
        return "valid/overall/category/ua"
    first = next(h for h in ("intensity", "phoneme", "gender") if h in heads)
    return f"valid/loss/{first}"


class Checkpointer:
    """Saves and restores one run's checkpoints under `<workdir>/checkpoints`."""

    def __init__(self, workdir: str | Path, *, best_metric: str, keep_latest: int = 2, keep_best: int = 1):
        self.best_metric = best_metric
        best_mode = metric_mode(best_metric)
        policy = ocp.checkpoint_managers.AnyPreservationPolicy([
            ocp.checkpoint_managers.LatestN(n=keep_latest),
            ocp.checkpoint_managers.BestN(
                get_metric_fn=self._metric, reverse=best_mode == "min", n=keep_best,
                keep_checkpoints_without_metrics=False),
        ])
        self.manager = ocp.CheckpointManager(
            Path(workdir).absolute() / "checkpoints",
            options=ocp.CheckpointManagerOptions(
                create=True, preservation_policy=policy, best_fn=self._metric, best_mode=best_mode,
                enable_async_checkpointing=False),
        )

    def _metric(self, metrics: dict[str, float]) -> float:
        if self.best_metric not in metrics:
            raise KeyError(f"best metric {self.best_metric!r} not among the checkpoint's metrics {sorted(metrics)}")
        return float(metrics[self.best_metric])

    def save(self, step: int, state, data_iterator: Any | None, metrics: dict[str, float] | None,
             model_card: dict[str, Any] | None = None) -> None:
        """Saves state (+ iterator state) at `step` with its validation metrics and the model card.

        `metrics=None` (a periodic or preemption checkpoint, no validation): kept while among the
        latest `keep_latest`, never chosen as best. Raises BestMetricError (nothing saved) when
        `metrics` lacks the best metric.
        """
        if metrics is not None and self.best_metric not in metrics:
            computed = sorted(k for k in metrics if "/corpora/" not in k)
            raise BestMetricError(f"train.best_metric={self.best_metric!r} is not computed by this run; "
                                  f"it computes {computed} (and per-corpus versions)")
        items = {"state": ocp.args.StandardSave(state)}
        if data_iterator is not None:
            items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
        self.manager.save(step, args=ocp.args.Composite(**items), metrics=metrics, force=True,
                          custom_metadata={"model_card": model_card} if model_card is not None else None)
        self.manager.wait_until_finished()

    def resolve(self, which: str | int) -> int:
        """'latest', 'best' or a step number -> an existing step (clear error otherwise)."""
        steps = self.manager.all_steps()
        if not steps:
            raise FileNotFoundError(f"no checkpoint under {self.manager.directory}")
        if which == "latest":
            return self.manager.latest_step()
        if which == "best":
            return self.manager.best_step()
        step = int(which)
        if step not in steps:
            raise FileNotFoundError(f"no checkpoint at step {step} under {self.manager.directory}; saved: {sorted(steps)}")
        return step

    def model_card(self, step: int) -> dict[str, Any] | None:
        """The model card saved with `step` (None for checkpoints saved without one)."""
        # The step's metadata file alone: `manager.metadata(step)` also probes every item and warns.
        metadata = ocp.metadata.get_step_metadata(Path(self.manager.directory) / str(step))
        return (metadata.custom_metadata or {}).get("model_card")

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def restore(self, step: int, target: TrainState, data_iterator: Any | None = None):
        """Restores the state at `step` onto `target`'s shardings (and the iterator in place)."""
        items = {"state": ocp.args.StandardRestore(target.state)}
        if data_iterator is not None:
            items["data"] = grain.checkpoint.CheckpointRestore(data_iterator)
        return self.manager.restore(step, args=ocp.args.Composite(**items)).state

    def close(self) -> None:
        self.manager.close()
