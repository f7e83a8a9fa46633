"""Prediction on raw audio: `--mode predict --input PATH...`.

Restores a checkpoint, turns WAV files (or every .wav under a directory) into
padded Batches with the pipeline's own feature code, runs the eval step, and
writes one JSON line per file: category probabilities (over the run's own
label set, saved with the data spec: exactly the classes it trained on), intensity, gender
probabilities and the greedy phoneme string. A file that cannot be read gets
a line with its error; the others are still predicted. Because padding never
reaches the model's outputs, a file's prediction does not depend on the
other files of its batch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import jax
import ml_collections
import numpy as np

from speecheq_jax import labels
from speecheq_jax.data import pipeline
from speecheq_jax.eval.ctc_decode import ctc_greedy_decode
from speecheq_jax.eval.run import restore_for_eval
from speecheq_jax.train import mesh as mesh_lib

log = logging.getLogger(__name__)


def expand_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Files as given, directories as their .wav files (sorted, recursive)."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        paths.extend(sorted(item.rglob("*.wav")) if item.is_dir() else [item])
    return paths


def _rows(outputs: dict[str, np.ndarray], paths: list[str], vocab: Sequence[str],
          categories: Sequence[str]) -> Iterator[dict]:
    """Per-file JSON records from one batch's host outputs (first len(paths) rows are real)."""
    phonemes = None
    if "phoneme_ids" in outputs:
        phonemes = ctc_greedy_decode(outputs["phoneme_ids"][: len(paths)], outputs["out_mask"][: len(paths)])
    for row, path in enumerate(paths):
        record: dict = {"path": path}
        if "category_prob" in outputs:
            probs = outputs["category_prob"][row]
            record["category"] = categories[int(np.argmax(probs))]
            record["category_probs"] = {name: round(float(p), 6) for name, p in zip(categories, probs, strict=True)}
        if "intensity" in outputs:
            record["intensity"] = round(float(outputs["intensity"][row]), 6)
        if "gender_prob" in outputs:
            probs = outputs["gender_prob"][row]
            record["gender"] = labels.GENDERS[int(np.argmax(probs))]
            record["gender_probs"] = {g: round(float(p), 6) for g, p in zip(labels.GENDERS, probs)}
        if phonemes is not None:
            record["phonemes"] = " ".join(vocab[i - 1] for i in phonemes[row])
        yield record


def predict(config: ml_collections.ConfigDict, workdir: str | Path, inputs: Sequence[str | Path], *,
            checkpoint: str | int = "best", batch_size: int | None = None) -> list[dict]:
    """One record per input file, in input order ({'path', 'error'} for unreadable files)."""
    paths = expand_inputs(inputs)
    if not paths:
        raise FileNotFoundError(f"no input audio found in {list(map(str, inputs))}")
    restored = restore_for_eval(config, workdir, checkpoint)
    log.info("predicting %d file(s)", len(paths))
    batches, errors = pipeline.batches_from_audio(paths, restored.spec, batch_size or config.data.batch_size)
    results: dict[str, dict] = {path: {"path": path, "error": message} for path, message in errors.items()}
    sharding = mesh_lib.batch_sharding(restored.mesh)
    for batch_paths, batch in batches:
        outputs, _ = restored.eval_step(restored.state, jax.device_put(batch, sharding))
        for record in _rows(jax.device_get(outputs), batch_paths, restored.spec.vocab, restored.spec.categories):
            results[record["path"]] = record
    return [results[str(p)] for p in paths]


def predict_files(config: ml_collections.ConfigDict, workdir: str | Path, inputs: Sequence[str | Path],
                  output: str | Path, *, checkpoint: str | int = "best") -> Path:
    """`predict` written as JSON lines to `output`; errors are reported, not fatal."""
    records = predict(config, workdir, inputs, checkpoint=checkpoint)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    failed = [r for r in records if "error" in r]
    for record in failed:
        log.error("%s: %s", record["path"], record["error"])
    log.info("wrote %d prediction(s) to %s (%d file(s) failed)", len(records) - len(failed), output, len(failed))
    return output
