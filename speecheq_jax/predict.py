r"""Predict with an exported model and onnxruntime: no checkpoint, no training data, no JAX arrays.

    python -m speecheq_jax.predict --model runs/demo/export --input clip.wav more_clips/ \
        --output predictions.jsonl [--timeline plots/]

`--model` is a directory written by `--mode export`. A recording of any
length is cut into speech windows by a voice-activity detector and predicted
window by window in bounded memory (speecheq_jax/serving/recording.py); each
window is padded to the shortest ONNX input length that holds it. The output
is the same JSON lines as `--mode predict` (per file: segments, summary,
flags); a file that cannot be read or is too short gets a line with its
error, and the others are still predicted. Exit status 1 when no file could
be predicted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from speecheq_jax.serving.files import predict_files
from speecheq_jax.serving.onnx_model import OnnxModel
from speecheq_jax.serving.recording import RecordingPredictor


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="an export directory (--mode export)")
    parser.add_argument("--input", required=True, nargs="+", action="extend", help="audio files or directories")
    parser.add_argument("--output", required=True, help="JSON-lines file to write")
    parser.add_argument("--batch_size", type=int, default=8, help="most speech windows per batch")
    parser.add_argument("--timeline", help="directory for one timeline PNG per file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        model = OnnxModel(args.model)
        predictor = RecordingPredictor(model, model.card, cap=args.batch_size, progress=True)
        _, done, _ = predict_files(predictor, args.input, args.output, args.timeline)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
