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

A step damaged after it was saved (an array file truncated or deleted, a
metadata file missing: `checkpoint_files.find_damage`) is found when the
checkpoints are opened, moved out of the way to `<workdir>/checkpoints_damaged/`
and named in one warning line; 'latest' and 'best' (and so a resumed run)
then fall back to the steps still whole. If none is, opening is a one-line
`DamagedCheckpointError`, and nothing is moved.

Which direction is "best" follows from the metric (`metric_mode`): PER, MAE
and losses are minimised, accuracies, F1, CCC and EQ maximised. The default
metric (`train.best_metric = "auto"`) is one the run computes whatever heads
it has (`best_metric_name`), and a configured metric the run does not compute
is a one-line error at the first validation, before anything is saved.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import grain
import jax
import ml_collections
import orbax.checkpoint as ocp
from etils import epath
from jax.experimental import multihost_utils

from speecheq_jax import storage
from speecheq_jax.errors import ConfigError, DataError
from speecheq_jax.heads import head_names
from speecheq_jax.train import checkpoint_files
from speecheq_jax.train.state import TrainState

log = logging.getLogger(__name__)

logging.getLogger("absl").setLevel(logging.WARNING)

AUTO = "auto"
_LOWER_IS_BETTER = frozenset({"per", "mae"})
_HIGHER_IS_BETTER = frozenset({"ua", "wa", "macro_f1", "f1", "ccc", "eq", "accuracy", "native_accuracy"})


class BestMetricError(ConfigError):
    """`train.best_metric` cannot select checkpoints (unknown direction, or not computed by the run)."""


class DamagedCheckpointError(DataError):
    """No saved step is whole, or a step's files cannot be restored: one line naming steps and files."""


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
    first = next(h for h in head_names() if h in heads)
    return f"valid/loss/{first}"


class Checkpointer:
    """Saves and restores one run's checkpoints under `<workdir>/checkpoints`."""

    def __init__(self, workdir: storage.PathLike, *, best_metric: str, keep_latest: int = 2, keep_best: int = 1,
                 asynchronous: bool = False):
        self.best_metric = best_metric
        self.asynchronous = asynchronous
        self._unrecorded: int | None = None  # a step saved whose file list is not written yet
        best_mode = metric_mode(best_metric)
        directory = storage.absolute(workdir) / "checkpoints"
        self.damaged = _set_aside_damaged(directory)
        policy = ocp.checkpoint_managers.AnyPreservationPolicy([
            ocp.checkpoint_managers.LatestN(n=keep_latest),
            ocp.checkpoint_managers.BestN(
                get_metric_fn=self._metric, reverse=best_mode == "min", n=keep_best,
                keep_checkpoints_without_metrics=False),
        ])
        self.manager = ocp.CheckpointManager(
            directory,
            options=ocp.CheckpointManagerOptions(
                create=True, preservation_policy=policy, best_fn=self._metric, best_mode=best_mode,
                enable_async_checkpointing=asynchronous),
        )

    def _metric(self, metrics: dict[str, float]) -> float:
        if self.best_metric not in metrics:
            raise KeyError(f"best metric {self.best_metric!r} not among the checkpoint's metrics {sorted(metrics)}")
        return float(metrics[self.best_metric])

    def save(self, step: int, state, data_iterator: Any | None, metrics: dict[str, float] | None,
             model_card: dict[str, Any] | None = None) -> None:
        """Saves state (+ iterator state) at `step` with its validation metrics and the model card.

        Synchronous by default: the step is on disk when this returns. Asynchronous (`asynchronous=True`):
        this returns once the state is copied to host memory (the caller may then donate its buffers) and
        the files are written in the background; the next save, any read and `close` wait for them. Either
        way only the state passed is written, so a caller that checks it first never keeps a non-finite one.
        `metrics=None` (a periodic or preemption checkpoint, no validation): kept while among the
        latest `keep_latest`, never chosen as best. Raises BestMetricError (nothing saved) when
        `metrics` lacks the best metric.
        """
        if metrics is not None and self.best_metric not in metrics:
            computed = sorted(k for k in metrics if "/corpora/" not in k)
            raise BestMetricError(f"train.best_metric={self.best_metric!r} is not computed by this run; "
                                  f"it computes {computed} (and per-corpus versions)")
        self._finish_writing()
        items = {"state": ocp.args.StandardSave(state)}
        if data_iterator is not None:
            items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
        self.manager.save(step, args=ocp.args.Composite(**items), metrics=metrics, force=True,
                          custom_metadata={"model_card": model_card} if model_card is not None else None)
        self._unrecorded = step
        if not self.asynchronous:
            self._finish_writing()

    def _finish_writing(self) -> None:
        """Waits for a save in flight, then lists the committed step's files (`checkpoint_files`)."""
        self.manager.wait_until_finished()
        if self._unrecorded is not None and jax.process_index() == 0:
            checkpoint_files.record(epath.Path(self.manager.directory) / str(self._unrecorded))
        self._unrecorded = None

    def resolve(self, which: str | int) -> int:
        """'latest', 'best' or a step number -> an existing, whole step (a one-line FileNotFoundError otherwise)."""
        self._finish_writing()
        steps = sorted(self.manager.all_steps())
        if not steps:
            raise FileNotFoundError(f"no checkpoint under {self.manager.directory}")
        if which == "latest":
            return self.manager.latest_step()
        if which == "best":
            return self.manager.best_step()
        available = f"available steps: {', '.join(map(str, steps))} (or 'best', 'latest')"
        if not re.fullmatch(r"\d+", str(which)):
            raise FileNotFoundError(f"checkpoint {which!r} is not 'best', 'latest' or a step number; {available}")
        step = int(which)
        if step in steps:
            return step
        set_aside = sorted(_damaged_directory(self.manager.directory).glob(f"{step}.*"))
        if set_aside:
            why = f" ({self.damaged[step]})" if step in self.damaged else ""
            raise FileNotFoundError(f"checkpoint step {step} is damaged{why} and was moved to {set_aside[-1]}; "
                                    f"{available}")
        raise FileNotFoundError(f"no checkpoint at step {step} under {self.manager.directory}; {available}")

    def model_card(self, step: int) -> dict[str, Any] | None:
        """The model card saved with `step` (None for checkpoints saved without one)."""
        self._finish_writing()
        # The step's metadata file alone: `manager.metadata(step)` also probes every item and warns.
        metadata = ocp.metadata.get_step_metadata(epath.Path(self.manager.directory) / str(step))
        return (metadata.custom_metadata or {}).get("model_card")

    def latest_step(self) -> int | None:
        self._finish_writing()
        return self.manager.latest_step()

    def restore(self, step: int, target: TrainState, data_iterator: Any | None = None):
        """Restores the state at `step` onto `target`'s shardings (and the iterator in place).

        Raises DamagedCheckpointError (one line) when the step's files cannot be read onto `target`:
        damage its file list could not show (bytes changed in place), or a state of another shape.
        """
        self._finish_writing()
        items = {"state": ocp.args.StandardRestore(target.state)}
        if data_iterator is not None:
            items["data"] = grain.checkpoint.CheckpointRestore(data_iterator)
        try:
            return self.manager.restore(step, args=ocp.args.Composite(**items)).state
        except Exception as error:  # TensorStore and Orbax raise bare Exception, ValueError, OSError
            first_line = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
            raise DamagedCheckpointError(
                f"checkpoint step {step} under {self.manager.directory} cannot be restored onto this run's state "
                f"(damaged, or saved by another config): {first_line}") from error

    def close(self) -> None:
        self._finish_writing()
        self.manager.close()


def _damaged_directory(directory: storage.PathLike) -> storage.AnyPath:
    """Where damaged steps of the checkpoints under `directory` are moved: beside it, out of Orbax's sight."""
    return storage.as_path(directory).parent / "checkpoints_damaged"


def _set_aside_damaged(directory: storage.AnyPath) -> dict[int, str]:
    """Moves damaged steps out of `directory` when a whole one remains; returns {step: why damaged}.

    One warning line names them. With no whole step left nothing is moved and the error names every
    step, so a rerun cannot silently start from scratch. A step Orbax never finished is not looked at:
    on a bucket (no rename) it is written under its final name and committed by a marker file, so an
    interrupted save leaves a step directory that Orbax itself ignores.
    """
    found = directory.iterdir() if directory.is_dir() else ()
    steps = sorted(int(path.name) for path in found
                   if path.name.isdigit() and path.is_dir() and ocp.utils.is_checkpoint_finalized(path))
    damaged = {step: why for step in steps if (why := checkpoint_files.find_damage(directory / str(step)))}
    if damaged and len(damaged) == len(steps):
        raise DamagedCheckpointError(
            f"no usable checkpoint under {directory}: " + "; ".join(f"step {s}: {why}" for s, why in damaged.items())
            + "; restore the files, or move the directory away to start from scratch")
    if damaged:
        aside = _damaged_directory(directory)
        if jax.process_index() == 0:
            aside.mkdir(exist_ok=True)
            for step in damaged:
                storage.move_tree(directory / str(step), aside / f"{step}.{time.strftime('%Y%m%d-%H%M%S')}")
        whole = [step for step in steps if step not in damaged]
        log.warning("damaged checkpoint %s: moved to %s; falling back to the steps still whole: %s",
                    "; ".join(f"step {s} ({why})" for s, why in damaged.items()), aside,
                    ", ".join(map(str, whole)))
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices("damaged checkpoints set aside")
    return damaged
