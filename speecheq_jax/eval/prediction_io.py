"""Prediction's input and output, shared by JAX prediction (`--mode predict`) and the ONNX predictor.

Input: the audio files to predict (directories expand to every file soundfile
can read), their log-mels by the project's numpy code (data/logmel.py), and
the rules that refuse a file with a one-line reason instead of predicting it:
unreadable, or shorter than the model card's `min_seconds`. Output: one JSON
record per file, the same whichever runtime computed the model's outputs.
Numpy only, so the ONNX predictor never creates a JAX array.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from speecheq_jax.features import logmel
from speecheq_jax.heads import head_specs
from speecheq_jax.input.assemble import Row, assemble

log = logging.getLogger(__name__)

AUDIO_SUFFIXES: frozenset[str] = frozenset(
    {f".{name.lower()}" for name in soundfile.available_formats() if name != "RAW"} | {".aif", ".oga", ".opus"})
"""File suffixes taken from directories: every format libsndfile reads (RAW needs a declared layout)."""


def expand_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Files as given; directories as their audio files (`AUDIO_SUFFIXES`, recursive, sorted)."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths.extend(sorted(p for p in item.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()))
        else:
            paths.append(item)
    return paths


def read_logmels(paths: Sequence[str | Path], min_seconds: float) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Log-mels of the readable, long enough files, and a one-line error for every other file.

    Returns:
      ({path: float32 [T, 80] un-normalised log-mel}, {path: error}), keyed by str(path).
    """
    mels: dict[str, np.ndarray] = {}
    errors: dict[str, str] = {}
    for path in map(str, paths):
        try:
            samples = logmel.read_audio(path)
        except (ValueError, OSError) as e:
            errors[path] = str(e)
            continue
        seconds = len(samples) / logmel.SAMPLE_RATE
        if seconds < min_seconds:
            errors[path] = f"{path}: audio too short ({seconds:.3f} s; at least {min_seconds} s needed)"
            continue
        mels[path] = logmel.log_mel(samples)
    return mels, errors


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


def write_jsonl(records: Sequence[dict], output: str | Path) -> Path:
    """Writes prediction records as JSON lines and logs the failures, one line each."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    failed = [r for r in records if "error" in r]
    for record in failed:
        log.error("%s", record["error"])
    log.info("wrote %d prediction(s) to %s (%d file(s) failed)", len(records) - len(failed), output, len(failed))
    return output
