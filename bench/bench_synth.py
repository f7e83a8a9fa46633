"""SEQD-synth generation speed: utterances per second with all cores.

Generates a fresh corpus into a temporary directory (so nothing is reused) and
prints the wall-clock rate, plus the mean size of a WAV. Usage:
python bench/bench_synth.py [--num 200] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from speecheq_jax.synth.generate import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate(tmp, args.num, seed=0, workers=args.workers)
        seconds = time.perf_counter() - start
        wav_bytes = sum(p.stat().st_size for p in Path(tmp, "wav").rglob("*.wav"))
    print(f"{args.num} utterances, {args.workers} workers: {seconds:.2f} s, "
          f"{args.num / seconds:.1f} utterances/s, {wav_bytes / args.num / 1024:.0f} KiB per utterance")


if __name__ == "__main__":
    main()
