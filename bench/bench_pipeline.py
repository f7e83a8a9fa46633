"""Benchmark of preparation and the host input pipeline on SEQD-synth (not a test).

    python bench/bench_pipeline.py --num 1000 --cache /tmp/speecheq_bench

Prints: preparation speed (utterances/s, corpus generation excluded), pipeline
throughput (examples/s, frames/s; host numpy batches, no device transfer),
padding efficiency (real / padded frames) and the number of distinct batch
shapes. The corpus is generated once into the cache directory.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from speecheq_jax.input import buckets, pipeline
from speecheq_jax.input.data_config import default_data_config
from speecheq_jax.prep import prepare
from speecheq_jax.synth import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=1000, help="SEQD-synth utterances")
    parser.add_argument("--cache", default="/tmp/speecheq_bench", help="raw corpus + datasets")
    parser.add_argument("--batches", type=int, default=200, help="training batches to time")
    parser.add_argument("--batch_size", type=int, default=16)
    args = parser.parse_args()
    cache = Path(args.cache)
    raw = cache / f"seqd_synth_{args.num}"
    params = {"num": args.num, "seed": 0, "langs": ["cmn", "eng"]}
    generate.generate(raw, args.num, seed=0, langs=("cmn", "eng"))

    data_dir = cache / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    start = time.perf_counter()
    prepared = prepare.prepare("seqd_synth", data_dir, root=raw, synth=params)
    elapsed = time.perf_counter() - start
    total = sum(prepared.split_sizes.values())
    print(f"preparation: {total} utterances in {elapsed:.1f} s = {total / elapsed:.1f} utt/s")

    config = default_data_config()
    config.data_dir, config.batch_size, config.synth = str(data_dir), args.batch_size, params
    config.corpora = [{"name": "seqd_synth", "root": str(raw), "fold": None, "protocol": None, "weight": 1.0}]
    iterator = pipeline.make_train_iterator(config, None)
    next(iterator)
    real = padded = 0
    shapes = set()
    start = time.perf_counter()
    for _ in tqdm(range(args.batches), desc="pipeline"):
        batch = next(iterator)
        real += int(batch["frame_mask"].sum())
        padded += batch["frame_mask"].size
        shapes.add(batch["logmel"].shape)
    elapsed = time.perf_counter() - start
    examples = args.batches * args.batch_size
    print(f"pipeline: {examples / elapsed:.0f} examples/s, {real / elapsed:.0f} real frames/s "
          f"({args.batches} batches of {args.batch_size}, prefetch {config.prefetch} threads)")
    print(f"padding efficiency: {buckets.padding_efficiency(real, padded):.3f}")
    print(f"distinct batch shapes: {len(shapes)}: {sorted(s[1] for s in shapes)}")
    frames = np.concatenate([u["num_frames"] for u in prepared.units.values()])
    print(f"utterance frames: mean {frames.mean():.0f}, max {frames.max()}")


if __name__ == "__main__":
    main()
