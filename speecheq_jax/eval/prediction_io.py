"""A prediction batch's input and its rows' fields, shared by JAX prediction and the ONNX predictor.

Input: log-mels normalised with the card's CMVN and padded by the pipeline's
assembler. Output: each row's fields by the head specs, the same whichever
runtime computed the model's outputs (`serving/record.py` assembles them into
a recording's record). Numpy only, so the ONNX predictor never creates a JAX
array.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from speecheq_jax.heads import head_specs
from speecheq_jax.input.assemble import Row, assemble


def pad_logmels(mels: Sequence[np.ndarray], mean: np.ndarray, std: np.ndarray, rows: int,
                frames: int) -> tuple[np.ndarray, np.ndarray]:
    """CMVN-normalised log-mels padded into a batch by the pipeline's assembler (`data.assemble`).

    Args:
      mels: at most `rows` float32 [T_i, 80] log-mels with T_i <= frames.
      mean, std: float32 [80] CMVN statistics.
      frames: a multiple of the model's subsampling (a bucket).
    Returns:
      (logmel float32 [rows, frames, 80], frame_mask bool [rows, frames]); padding is zero.
    """
    batch = assemble([Row(mel, mean, std) for mel in mels], rows, frames)
    return batch["logmel"], batch["frame_mask"]


def prediction_records(paths: Sequence[str], outputs: Mapping[str, np.ndarray], card: Mapping[str, Any]
                       ) -> list[dict[str, Any]]:
    """One JSON record per real row of a batch's outputs (the first len(paths) rows).

    `outputs` holds the eval outputs of the heads that exist (category_prob [B, C], intensity [B],
    phoneme_ids [B, T'] with out_mask [B, T'], gender_prob [B, 2]); each head's spec turns its row
    into fields (`category`, `category_probs`, `intensity`, `phonemes`, `gender`, `gender_probs`),
    with names from the model card: its categories, genders and phonemes.
    """
    rows = np.arange(len(paths))
    present = [spec for spec in head_specs() if spec.eval_output in outputs]
    values = {spec.name: spec.predictions_from_outputs(outputs, rows) for spec in present}
    records = []
    for row, path in enumerate(paths):
        record: dict[str, Any] = {"path": path}
        for spec in present:
            record.update(spec.record_fields(values[spec.name][row], card))
        records.append(record)
    return records
