"""The phoneme head: phonemes per encoder frame, trained with CTC (auxiliary).

Model: frames [B, T', D] -> Linear -> logits [B, T', V + 1], index 0 the CTC blank, i + 1 the
run's phoneme i. Loss: CTC per reference token over the examples CTC can align
(heads/masked_losses.py). Eval output `phoneme_ids` [B, T'] int32 (frame argmax), decoded greedily on
the host. Metric: PER = total edits / total reference tokens over the examples with a reference
(not a mean of per-utterance rates). Prediction field: `phonemes` (space-separated symbols).

Label path: the utterance's phoneme tokens, stored as the corpus vocabulary's ids (1..), turned
into the run vocabulary's ids by the pipeline; a sequence CTC cannot align over its example's own
encoder frames is masked there (`ctc_alignable`), so optax's ~1e5 for an impossible alignment never
reaches the loss.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from speecheq_jax.heads import masked_losses
from speecheq_jax.heads.contract import Column, HeadSpec, Kind, LabelPath, MetricGroup, RunTables
from speecheq_jax.heads.ctc_decode import edit_distance
from speecheq_jax.utterance import Utterance


def ctc_alignable(phonemes: np.ndarray, num_encoder_frames: int) -> bool:
    """Whether a CTC path for `phonemes` [L] exists in `num_encoder_frames` encoder frames (the feature route's
    `Route.encoder_frames` of the input frames).

    CTC emits one frame per token plus a blank between two equal adjacent tokens, so it needs
    L + (number of adjacent repeats) frames. An empty sequence is no target at all (False). The
    batched, on-device twin is `masked_losses.ctc_alignable`.
    """
    phonemes = np.asarray(phonemes)
    repeats = int(np.sum(phonemes[1:] == phonemes[:-1]))
    return 0 < phonemes.size and phonemes.size + repeats <= num_encoder_frames


def _stored(utterance: Utterance, phoneme_ids: dict[str, int]) -> np.ndarray:
    return np.array([phoneme_ids[p] for p in utterance.phonemes or ()], dtype=np.int32)


def _to_run(stored: np.ndarray, tables: RunTables) -> tuple[np.ndarray, str | None]:
    ids = tables.phoneme[np.asarray(stored)]
    available = int(tables.route.encoder_frames(tables.frames))
    if ctc_alignable(ids, available):
        return ids, None
    if not len(ids):
        return ids, None
    repeats = int(np.sum(ids[1:] == ids[:-1]))
    return ids[:0], (f"{len(ids)} phonemes ({repeats} adjacent repeats) cannot be aligned in "
                     f"{available} encoder frames")


def _metrics(references: list[np.ndarray], hypotheses: list[np.ndarray], group: MetricGroup) -> dict[str, Any]:
    pairs = [(ref, hyp) for ref, hyp in zip(references, hypotheses) if ref.size > 0]
    if not pairs:
        return {}
    edits = sum(edit_distance(ref, hyp) for ref, hyp in pairs)
    reference_tokens = sum(ref.size for ref, _ in pairs)
    return {
        "phoneme/n": len(pairs),
        "phoneme/ref_tokens": int(reference_tokens),
        "phoneme/edits": int(edits),
        "phoneme/per": float(edits / reference_tokens),
    }


SPEC = HeadSpec(
    name="phoneme",
    kind=Kind.FRAME_CTC,
    label="phonemes",
    label_mask="phoneme_mask",
    data=LabelPath(from_utterance=_stored, to_run=_to_run, dtype=np.int32, sequence=True),
    default_weight=0.3,
    output_size=lambda sizes: sizes.num_phonemes + 1,
    activation=lambda logits: logits,
    loss=lambda logits, out_mask, batch, options: masked_losses.ctc_loss(
        logits, out_mask, batch["phonemes"], batch["phoneme_mask"]),
    label_count=lambda batch, out_lengths: jnp.sum(
        masked_losses.ctc_alignable(batch["phonemes"], batch["phoneme_mask"], out_lengths)),
    eval_output="phoneme_ids",
    eval_transform=lambda logits: jnp.argmax(logits, axis=-1).astype(jnp.int32),
    metrics=_metrics,
    bad_truth=lambda sequences: np.array([bool((seq < 1).any()) for seq in sequences], dtype=bool),
    headline_columns=(Column("PER", "phoneme/per", "phoneme error rate"),),
    count_columns=(Column("phoneme utts", "phoneme/n"), Column("phoneme tokens", "phoneme/ref_tokens")),
    record_fields=lambda ids, card: {"phonemes": " ".join(card["phonemes"][i - 1] for i in ids)},
)
