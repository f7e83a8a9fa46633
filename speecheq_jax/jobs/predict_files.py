"""Prediction on raw audio with JAX: `--mode predict --input PATH...`.

Restores a checkpoint (its model card says everything about the data, so no
prepared dataset is read), turns audio files (or every audio file under a
directory) into padded Batches with the project's numpy log-mel and the
card's pooled CMVN, runs the eval step, and writes one JSON line per file:
category probabilities (over the run's own label set, from the card), intensity, gender probabilities and the greedy
phoneme string (speecheq_jax/eval/prediction_io.py, the same lines as the
ONNX predictor). A file that cannot be read or is too short gets a line with
its error; the others are still predicted. Because padding never reaches the
model's outputs, a file's prediction does not depend on the other files of
its batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import jax
import ml_collections

from speecheq_jax.eval import prediction_io
from speecheq_jax.input import batch as batch_lib
from speecheq_jax.input import buckets as buckets_lib
from speecheq_jax.jobs.evaluate_checkpoint import restore_for_eval
from speecheq_jax.train import mesh as mesh_lib

log = logging.getLogger(__name__)


def predict(config: ml_collections.ConfigDict, workdir: str | Path, inputs: Sequence[str | Path], *,
            checkpoint: str | int = "best", batch_size: int | None = None) -> list[dict]:
    """One record per input file, in input order ({'path', 'error'} for files not predicted)."""
    paths = prediction_io.expand_inputs(inputs)
    if not paths:
        raise FileNotFoundError(f"no input audio found in {list(map(str, inputs))}")
    restored = restore_for_eval(config, workdir, checkpoint)
    card = restored.card
    log.info("predicting %d file(s)", len(paths))
    mels, errors = prediction_io.read_logmels(paths, card["features"]["min_seconds"])
    results: dict[str, dict] = {path: {"path": path, "error": message} for path, message in errors.items()}
    mean, std = restored.spec.pooled_cmvn
    sharding = mesh_lib.batch_sharding(restored.mesh)
    batch_size = batch_size or restored.config.data.batch_size
    names = list(mels)
    for start in range(0, len(names), batch_size):
        chunk = names[start : start + batch_size]
        frames = buckets_lib.bucket_or_extend(max(len(mels[p]) for p in chunk), restored.spec.buckets)
        batch = batch_lib.zeros(batch_size, frames, frames // buckets_lib.SUBSAMPLING)
        batch["logmel"], batch["frame_mask"] = prediction_io.pad_logmels(
            [mels[p] for p in chunk], mean, std, batch_size, frames)
        batch["example_mask"][: len(chunk)] = True
        batch["index"][:] = -1
        batch["index"][: len(chunk)] = range(start, start + len(chunk))
        outputs, _ = restored.eval_step(restored.state, jax.device_put(batch, sharding))
        for record in prediction_io.prediction_records(chunk, jax.device_get(outputs), card):
            results[record["path"]] = record
    return [results[str(p)] for p in paths]


def predict_files(config: ml_collections.ConfigDict, workdir: str | Path, inputs: Sequence[str | Path],
                  output: str | Path, *, checkpoint: str | int = "best") -> Path:
    """`predict` written as JSON lines to `output`; errors are reported, not fatal."""
    return prediction_io.write_jsonl(predict(config, workdir, inputs, checkpoint=checkpoint), output)
