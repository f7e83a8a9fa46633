r"""Self-supervised speech encoders (wav2vec 2.0, HuBERT, WavLM) from a Hugging Face checkpoint directory.

    python -m speecheq_jax.ssl extract --checkpoint wav2vec2-base/ --input a.wav b.flac clips/ \
        --output hidden_states.npz

`extract` writes, per input file, its hidden states float32 [num_layers + 1, frames, dim] (entry 0
the first layer's input; for pre-LN models the last entry is before the final LayerNorm, as
transformers returns it) into one .npz, keyed by the file's name, or by its path as given where two
inputs share a name. Directories expand to the audio files below them. Files run in padded batches
of at most --batch-seconds of padded audio (each row equals its file run alone). A file that is missing, not
audio, or too short for the convolutions gets one error line and the others are still processed;
exit status 1 if any file failed (or the checkpoint could not be loaded).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from speecheq_jax.serving.files import expand_inputs
from speecheq_jax.ssl.errors import CheckpointError
from speecheq_jax.ssl.extract import DEFAULT_BATCH_SECONDS, Extractor, extract

log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m speecheq_jax.ssl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    extract_parser = commands.add_parser("extract", help="hidden states of audio files -> .npz")
    extract_parser.add_argument("--checkpoint", required=True,
                                help="a Hugging Face checkpoint directory (config.json + model.safetensors)")
    extract_parser.add_argument("--input", required=True, nargs="+", action="extend",
                                help="audio files or directories")
    extract_parser.add_argument("--output", required=True, help=".npz file to write")
    extract_parser.add_argument("--batch-seconds", type=float, default=DEFAULT_BATCH_SECONDS,
                                help="padded audio per batch, bounds memory (default %(default)s; a longer file "
                                     "runs alone)")
    return parser.parse_args(argv)


def run_extract(args: argparse.Namespace) -> int:
    if not args.batch_seconds > 0:
        print(f"error: --batch-seconds must be positive, got {args.batch_seconds}", file=sys.stderr)
        return 1
    try:
        extractor = Extractor(args.checkpoint)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    paths = expand_inputs(args.input)
    if not paths:
        print(f"error: no audio files in {' '.join(args.input)}", file=sys.stderr)
        return 1
    arrays, errors = extract(extractor, paths, args.batch_seconds)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if arrays:
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        np.savez(output, **arrays)
        log.info("wrote hidden states of %d file(s) to %s (%d failed)", len(arrays), output, len(errors))
    return 1 if errors or not arrays else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    return run_extract(args)


if __name__ == "__main__":
    sys.exit(main())
