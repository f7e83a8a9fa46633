"""The Batch contract between the input pipeline, the model and the train step.

A Batch is a plain dict of arrays with fixed bucket shapes (so the step
compiles once per bucket). Every label carries its own validity mask; a masked
label contributes nothing to any loss or metric. Padding examples (added so
that evaluation sees every example exactly once in full batches) have
`example_mask` False and every label mask False.

| key            | shape    | dtype   | meaning                                        |
|----------------|----------|---------|------------------------------------------------|
| logmel         | [B,T,F]  | float32 | CMVN-normalised log-mel frames, 0 on padding   |
| (or ssl_states | [B,T,K,D]| float32 | the SSL route's kept hidden states, 0 on padding) |
| frame_mask     | [B,T]    | bool    | True on real frames                            |
| corpus_id      | [B]      | int32   | index into the run's list of corpora           |
| example_mask   | [B]      | bool    | False on padding examples                      |
| index          | [B]      | int32   | record index in its split (-1 on padding), to look up ids host-side |

and one label and one mask per registered head, declared by its spec (`HeadSpec.label`,
`label_mask`, `data`): [B] for a per-example label, [B,L] int32 for a sequence. The four
built-in heads give:

| key            | shape    | dtype   | meaning                                        |
|----------------|----------|---------|------------------------------------------------|
| category       | [B]      | int32   | id in the run's label set (DataSpec.categories)|
| category_mask  | [B]      | bool    | example carries a category                     |
| intensity      | [B]      | float32 | intensity on [0,1]                             |
| intensity_mask | [B]      | bool    | example carries an intensity                   |
| gender         | [B]      | int32   | labels.GENDERS id                              |
| gender_mask    | [B]      | bool    | example carries a gender                       |
| phonemes       | [B,L]    | int32   | phoneme ids, 1..V (0 = CTC blank, never a target) |
| phoneme_mask   | [B,L]    | bool    | True on real phoneme tokens                    |

with F = frames.NUM_MELS (80) and L = T // SUBSAMPLING: a CTC target is
aligned over its example's encoder frames, of which the model has T / 4. The
feature key, its per-frame shape and the subsampling are the route's
(`frames.FeatureLayout`): on the SSL route `ssl_states` [B,T,K,D] at 50 Hz, L = T // 2.

Under gradient accumulation the training loop adds one more field,
`label_totals` float32 [B, len(heads.HEAD_NAMES)] (train/multitask_loss.TOTALS_KEY): every row holds the
labelled count per task of the whole update the micro-batch belongs to.
"""

from __future__ import annotations

import numpy as np

from speecheq_jax.frames import LOGMEL, FeatureLayout, route_of
from speecheq_jax.heads import head_specs

_BASE: dict[str, tuple[str, type]] = {
    "frame_mask": ("BT", np.bool_),
    "corpus_id": ("B", np.int32),
    "example_mask": ("B", np.bool_),
    "index": ("B", np.int32),
}


def _fields(layout: FeatureLayout = LOGMEL) -> dict[str, tuple[str, type]]:
    """Every Batch key -> (axes, dtype): the features, the base fields, then each registered head's label and mask."""
    fields = {layout.route.key: ("BTF", np.float32), **_BASE}
    for spec in head_specs():
        axes = "BL" if spec.data.sequence else "B"
        fields[spec.label] = (axes, spec.data.dtype)
        fields[spec.label_mask] = (axes, np.bool_)
    return fields


def keys(layout: FeatureLayout = LOGMEL) -> tuple[str, ...]:
    """The Batch's keys on `layout`'s route with the heads registered now."""
    return tuple(_fields(layout))


def shapes(batch_size: int, num_frames: int, max_phonemes: int,
           layout: FeatureLayout = LOGMEL) -> dict[str, tuple[tuple[int, ...], type]]:
    """Shape and dtype of every Batch field for one bucket (L = max_phonemes: every sequence label's width;
    the features' per-frame shape is `layout.shape`)."""
    dims = {"B": (batch_size,), "T": (num_frames,), "F": layout.shape, "L": (max_phonemes,)}
    return {k: (sum((dims[c] for c in axes), ()), dtype) for k, (axes, dtype) in _fields(layout).items()}


def zeros(batch_size: int, num_frames: int, max_phonemes: int, layout: FeatureLayout = LOGMEL) -> dict[str, np.ndarray]:
    """An all-padding Batch (every mask False): for shape inference and init."""
    return {k: np.zeros(shape, dtype)
            for k, (shape, dtype) in shapes(batch_size, num_frames, max_phonemes, layout).items()}


def validate(batch: dict[str, np.ndarray]) -> None:
    """Raises ValueError naming the first field whose presence, rank or dtype is off."""
    try:
        route = route_of(batch)
    except ValueError as e:
        raise ValueError(f"batch lacks its features: {e}") from None
    layout = FeatureLayout(route, tuple(batch[route.key].shape[2:]))
    missing = [k for k in keys(layout) if k not in batch]
    if missing:
        raise ValueError(f"batch lacks field(s) {missing}")
    b, t = batch["frame_mask"].shape
    width = next((batch[s.label].shape[1] for s in head_specs() if s.data.sequence), t // route.subsampling)
    for key, (shape, dtype) in shapes(b, t, width, layout).items():
        arr = batch[key]
        if tuple(arr.shape) != shape or np.dtype(arr.dtype) != np.dtype(dtype):
            raise ValueError(f"batch[{key!r}] is {arr.dtype}{list(arr.shape)}, expected {np.dtype(dtype)}{list(shape)}")
