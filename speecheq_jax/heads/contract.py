"""`HeadSpec`: one output head described once, for the model, the losses, evaluation and prediction.

The consumers and the spec fields they read:

| consumer                                   | fields                                              |
|--------------------------------------------|-----------------------------------------------------|
| preparation (prep/tfds_builder.py)         | label, data (from_utterance, sequence, dtype)       |
| input pipeline (input/sources.py, batch.py,| label, label_mask, data (to_run, sequence, dtype)   |
|   assemble.py)                             |                                                     |
| loss weights (train/multitask_loss.py)     | default_weight                                      |
| model (model/speecheq.py)                  | kind, output_size, activation                       |
| losses, accumulation (train/multitask_loss.py)    | loss, label_count                                   |
| eval step and export (`prediction_outputs`)| eval_output, eval_transform                         |
| evaluation (eval/evaluator.py)             | label, label_mask, kind (truth_from_batch,          |
|                                            | predictions_from_outputs)                           |
| metrics (eval/metrics.py)                  | metrics, bad_truth                                  |
| report, model card                         | headline_columns, count_columns                     |
| prediction JSON (eval/prediction_io.py)    | record_fields                                       |
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from speecheq_jax import labels
from speecheq_jax.frames import LOGMEL_ROUTE, Route
from speecheq_jax.heads import masked_losses
from speecheq_jax.heads.ctc_decode import ctc_greedy_decode
from speecheq_jax.utterance import Utterance

Batch = Mapping[str, jax.Array]
HostValues = np.ndarray | list[np.ndarray]
"""Per-example host values of one head: an array [N, ...], or N id sequences for a CTC head."""


class Kind(enum.Enum):
    """What a head predicts, and so its input, its truth and its host-side values.

    Utterance heads read the attentive statistics of the encoder frames [B, 2D]; a frame-level
    head reads the frames [B, T', D]. Utterance truth is one value per example (-1 = none); a CTC
    head's truth and prediction are id sequences (empty = none), decoded greedily on the host.
    """

    UTTERANCE_CLASSIFICATION = "utterance classification"
    UTTERANCE_REGRESSION = "utterance regression"
    FRAME_CTC = "frame-level CTC"

    @property
    def per_utterance(self) -> bool:
        return self is not Kind.FRAME_CTC


@dataclasses.dataclass(frozen=True)
class OutputSizes:
    """The output sizes the data sets (never the config): the run's label set and phoneme vocabulary."""

    num_categories: int
    num_phonemes: int


@dataclasses.dataclass(frozen=True)
class LossOptions:
    """Loss settings from `config.tasks` that heads read."""

    label_smoothing: float = 0.0
    intensity_loss: str = "mse"


@dataclasses.dataclass(frozen=True)
class Column:
    """One report column: `header` in report tables, `title` in the model card, metric `key`.

    `flag`: a bool metric key; where it is True the cell is marked " †" (e.g. a degenerate truth).
    """

    header: str
    key: str
    title: str = ""
    flag: str | None = None


@dataclasses.dataclass(frozen=True)
class MetricGroup:
    """What a head's metric function knows of one group of examples besides its own values.

    corpus: str [N]; truth: every head's truth over the group (a head's metric may read another's,
    e.g. intensity's native-scale accuracy counts emotional examples only); categories: the run's
    label set; neutral: its index of "neutral" (None when the set has none).
    """

    corpus: np.ndarray
    truth: Mapping[str, HostValues]
    categories: tuple[str, ...]
    neutral: int | None


@dataclasses.dataclass(frozen=True)
class RunTables:
    """What turns a stored label into the run's ids: the corpus's stored ids -> the run's.

    category: int32 [len(labels.CATEGORIES)] taxonomy id -> id in the run's label set, or MISSING
      where the run drops the category; phoneme: int32 [1 + corpus vocabulary] stored token id ->
      run phoneme id (index 0 unused); frames: the example's input frames; route: the run's feature
      route (`frames.Route`), whose `encoder_frames(frames)` are what CTC aligns over.
    """

    category: np.ndarray
    phoneme: np.ndarray
    frames: int
    route: Route = LOGMEL_ROUTE


@dataclasses.dataclass(frozen=True)
class LabelPath:
    """How a head's label travels: corpus record -> stored example -> batch row and mask.

    A scalar label is one value per example (`labels.MISSING` = none; its batch key is [B] with a
    mask [B]); a sequence label is int32 [L] (empty = none; batch [B, L], mask per token).

    Attributes:
      from_utterance: (utterance, the corpus's phoneme token -> stored id) -> the stored value.
      to_run: (stored value, RunTables) -> (the value in run ids, or the "none" value, and the
        reason it was dropped when the stored value had a label the run cannot use, else None).
      dtype: np.int32 or np.float32 (a sequence is int32).
      sequence: whether the label is a sequence (stored as a variable-length tensor).
    """

    from_utterance: Callable[[Utterance, Mapping[str, int]], Any]
    to_run: Callable[[Any, RunTables], tuple[Any, str | None]]
    dtype: type = np.int32
    sequence: bool = False

    def none(self) -> Any:
        """The value that says "no label": MISSING, or an empty sequence."""
        return np.zeros(0, np.int32) if self.sequence else labels.MISSING


def _kept(value: Any, tables: RunTables) -> tuple[Any, None]:
    return value, None


def scalar_label(read: Callable[[Utterance], Any], encode: Callable[[Any], Any] = lambda value: value, *,
                 dtype: type = np.float32,
                 to_run: Callable[[Any, RunTables], tuple[Any, str | None]] = _kept) -> LabelPath:
    """The path of a per-example label: `read(utterance)` (None = none), stored as `encode(value)`."""

    def from_utterance(utterance: Utterance, phoneme_ids: Mapping[str, int]) -> Any:
        value = read(utterance)
        return labels.MISSING if value is None else encode(value)

    return LabelPath(from_utterance=from_utterance, to_run=to_run, dtype=dtype)


def extra_label(name: str) -> LabelPath:
    """A float label in [0, 1] that readers put in `Utterance.extra_labels[name]` (a new head's label)."""
    return scalar_label(lambda utterance: utterance.extra_labels.get(name), float)


@dataclasses.dataclass(frozen=True)
class HeadSpec:
    """Everything about one head. Functions, not subclasses: a spec module fills the fields.

    Attributes:
      name: the head's name (config `model.heads`, metric prefix "<name>/", loss key "loss_<name>").
      kind: see `Kind`.
      label, label_mask: the Batch keys of its label and label mask (input/batch.py); `label` is
        also the key of the stored example's label.
      data: how the label gets from the corpus record into the batch (`LabelPath`).
      default_weight: its static loss weight unless `config.tasks.weights` names it.
      output_size: sizes -> width K of the module's raw output ([B, K], or [B, T', K] per frame).
      activation: raw float32 output -> the model's output for the head (e.g. sigmoid(x[:, 0]) [B]).
      loss: (model output, out_mask [B, T'], batch, options) -> (mean loss, labelled count), float32;
        masked labels removed with `where`, averaged over the labelled examples of the global batch.
      label_count: (batch, out_lengths [B]) -> the count `loss` would return, from the batch alone
        (the accumulation group's totals are counted before the step).
      eval_output, eval_transform: the eval step's and the export's one output for the head, by name
        (also the ONNX output name), and how it is made from the model's output.
      metrics: (truth, predictions, group) -> {"<name>/<metric>": value}; {} when nothing is labelled.
      bad_truth: host truth -> bool [N], True where a label is out of range (a corrupted record).
      headline_columns, count_columns: its columns in the report's headline and count tables.
      record_fields: (one example's host prediction, model card) -> its fields of the prediction JSON.
    """

    name: str
    kind: Kind
    label: str
    label_mask: str
    data: LabelPath
    default_weight: float
    output_size: Callable[[OutputSizes], int]
    activation: Callable[[jax.Array], jax.Array]
    loss: Callable[[jax.Array, jax.Array, Batch, LossOptions], tuple[jax.Array, jax.Array]]
    label_count: Callable[[Batch, jax.Array], jax.Array]
    eval_output: str
    eval_transform: Callable[[jax.Array], jax.Array]
    metrics: Callable[[HostValues, HostValues, MetricGroup], dict[str, Any]]
    bad_truth: Callable[[np.ndarray], np.ndarray]
    headline_columns: tuple[Column, ...]
    count_columns: tuple[Column, ...]
    record_fields: Callable[[Any, Mapping[str, Any]], dict[str, Any]]

    def truth_from_batch(self, batch: Mapping[str, np.ndarray], rows: np.ndarray) -> HostValues:
        """The truth of host batch rows `rows`: [n] with -1 where masked, or n sequences (empty = none)."""
        values, mask = np.asarray(batch[self.label]), np.asarray(batch[self.label_mask])
        if self.kind.per_utterance:
            return np.where(mask[rows], values[rows], labels.MISSING)
        return [values[i][mask[i]] for i in rows]

    def predictions_from_outputs(self, outputs: Mapping[str, np.ndarray], rows: np.ndarray) -> HostValues:
        """The host predictions of rows `rows` from the eval step's (or the export's) outputs."""
        values = np.asarray(outputs[self.eval_output])[rows]
        if self.kind.per_utterance:
            return values
        return [np.asarray(ids) for ids in ctc_greedy_decode(values, np.asarray(outputs["out_mask"])[rows])]


def utterance_label_count(label_mask: str) -> Callable[[Batch, jax.Array], jax.Array]:
    """`label_count` of an utterance head: the examples whose label mask (Batch key) is True."""
    return lambda batch, out_lengths: jax.numpy.sum(batch[label_mask])


def _classification_record(name: str, class_names: Sequence[str], probs: np.ndarray) -> dict[str, Any]:
    """Prediction fields of a classification head: {name: top class, "<name>_probs": {class: p}} (6 digits)."""
    probs = np.asarray(probs)
    return {name: class_names[int(np.argmax(probs))],
            f"{name}_probs": {c: round(float(p), 6) for c, p in zip(class_names, probs)}}


def classification_spec(name: str, *, data: LabelPath, default_weight: float,
                        output_size: Callable[[OutputSizes], int],
                        class_names: Callable[[Mapping[str, Any]], Sequence[str]],
                        metrics: Callable[[HostValues, HostValues, MetricGroup], dict[str, Any]],
                        bad_truth: Callable[[np.ndarray], np.ndarray], headline_columns: tuple[Column, ...],
                        count_columns: tuple[Column, ...]) -> HeadSpec:
    """An utterance classification head on Batch keys `name` / `<name>_mask`.

    Logits [B, K] out of the model; cross-entropy with `tasks.label_smoothing`; eval output
    `<name>_prob` [B, K] (softmax); prediction fields `<name>` and `<name>_probs`, the classes
    named by `class_names(model card)`.
    """
    mask = f"{name}_mask"
    return HeadSpec(
        name=name,
        kind=Kind.UTTERANCE_CLASSIFICATION,
        label=name,
        label_mask=mask,
        data=data,
        default_weight=default_weight,
        output_size=output_size,
        activation=lambda logits: logits,
        loss=lambda logits, out_mask, batch, options: masked_losses.classification_loss(
            logits, batch[name], batch[mask], options.label_smoothing),
        label_count=utterance_label_count(mask),
        eval_output=f"{name}_prob",
        eval_transform=lambda logits: jax.nn.softmax(logits, axis=-1),
        metrics=metrics,
        bad_truth=bad_truth,
        headline_columns=headline_columns,
        count_columns=count_columns,
        record_fields=lambda probs, card: _classification_record(name, class_names(card), probs),
    )
