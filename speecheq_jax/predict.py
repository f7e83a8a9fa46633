r"""Predict with an exported model and onnxruntime: no checkpoint, no training data, no JAX arrays.

    python -m speecheq_jax.predict --model runs/demo/export --input clip.wav more_clips/ \
        --output predictions.jsonl

`--model` is a directory written by `--mode export`. Features are the
project's numpy log-mel (data/features.py) normalised with the model card's
CMVN; each file is padded to the shortest ONNX input length that holds it.
The output is the same JSON lines as `--mode predict`; a file that cannot be
read, is too short or too long gets a line with its error, and the others are
still predicted. Exit status 1 when no file could be predicted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from speecheq_jax.eval import prediction_io
from speecheq_jax.model_card import read_card

log = logging.getLogger(__name__)


class OnnxPredictor:
    """The ONNX files of an export directory, one onnxruntime session per input length (opened on first use)."""

    def __init__(self, model_dir: str | Path):
        self.model_dir = Path(model_dir)
        self.card = read_card(self.model_dir)
        if "export" not in self.card:
            raise ValueError(f"{self.model_dir}: a run's model card, not an export (run --mode export first)")
        self.files = {int(frames): name for frames, name in self.card["export"]["onnx"]["files"].items()}
        pooled = self.card["cmvn"]["pooled"]
        self.mean, self.std = np.asarray(pooled["mean"], np.float32), np.asarray(pooled["std"], np.float32)
        self._sessions: dict[int, onnxruntime.InferenceSession] = {}

    @property
    def max_frames(self) -> int:
        return max(self.files)

    def run(self, logmel: np.ndarray, frame_mask: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs by name for logmel [B, T, 80], frame_mask [B, T], T one of the export's lengths."""
        frames = logmel.shape[1]
        if frames not in self._sessions:
            self._sessions[frames] = onnxruntime.InferenceSession(
                str(self.model_dir / self.files[frames]), providers=["CPUExecutionProvider"])
        session = self._sessions[frames]
        values = session.run(None, {"logmel": logmel, "frame_mask": frame_mask})
        return dict(zip([o.name for o in session.get_outputs()], values))

    def predict(self, inputs: Sequence[str | Path], batch_size: int = 8) -> list[dict[str, Any]]:
        """One record per input file, in input order ({'path', 'error'} for files not predicted)."""
        paths = prediction_io.expand_inputs(inputs)
        mels, errors = prediction_io.read_logmels(paths, self.card["features"]["min_seconds"])
        seconds = self.max_frames * self.card["features"]["hop_length"] / self.card["features"]["sample_rate"]
        for path, mel in list(mels.items()):
            if len(mel) > self.max_frames:
                errors[path] = f"{path}: audio too long for this export ({len(mel)} frames; at most {seconds:.2f} s)"
                del mels[path]
        results = {path: {"path": path, "error": message} for path, message in errors.items()}
        by_length: dict[int, list[str]] = {}
        for path, mel in mels.items():
            by_length.setdefault(min(f for f in self.files if f >= len(mel)), []).append(path)
        for frames, members in sorted(by_length.items()):
            for start in range(0, len(members), batch_size):
                chunk = members[start : start + batch_size]
                logmel, mask = prediction_io.pad_logmels([mels[p] for p in chunk], self.mean, self.std, len(chunk),
                                                         frames)
                for record in prediction_io.prediction_records(chunk, self.run(logmel, mask), self.card):
                    results[record["path"]] = record
        return [results[str(p)] for p in paths]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="an export directory (--mode export)")
    parser.add_argument("--input", required=True, nargs="+", action="extend", help="audio files or directories")
    parser.add_argument("--output", required=True, help="JSON-lines file to write")
    parser.add_argument("--batch_size", type=int, default=8)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        predictor = OnnxPredictor(args.model)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    records = predictor.predict(args.input, args.batch_size)
    if not records:
        sys.exit(f"error: no input audio found in {args.input}")
    prediction_io.write_jsonl(records, args.output)
    return 0 if any("error" not in r for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
