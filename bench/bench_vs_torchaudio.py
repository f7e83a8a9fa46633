"""Our full train step against torchaudio's Conformer of the same shape, on this machine.

Ours is the project's own jitted step (`train.step.make_train_step`): the conformer, all four
heads and their losses (category and gender cross-entropy, intensity regression, phoneme CTC), the
per-task scaling, gradient clipping and AdamW, with the train state donated. Theirs is
`torchaudio.models.Conformer` from the PyPI package, behind the same front end (two 3x3 stride-2
Conv2d + ReLU, then a linear projection to d_model), with the same d_model, layers, heads,
feed-forward size and depthwise kernel, a mean-pooled linear classifier, cross-entropy and
`torch.optim.AdamW`, run eagerly (the way a user would). Both see the same batch (B x T log-mel
frames, no padding) and the same number of threads. Steps alternate (ours, theirs, ours, ...)
after warm-up so that a machine whose speed drifts affects both alike; each side's figure is the
median of `--steps` timed steps. `ratio` = torchaudio step time / our step time: above 1 we are
faster.

    pip install -r bench/requirements.txt        # torch + torchaudio, bench only
    python bench/bench_vs_torchaudio.py --size S --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import jax
import numpy as np
import torch
import torchaudio
from torch import nn

from speecheq_jax.config import base_config
from speecheq_jax.data import batch as batch_lib
from speecheq_jax.model import SIZES
from speecheq_jax.model.frontend import SUBSAMPLING
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import state as state_lib
from speecheq_jax.train import step as step_lib

NUM_PHONEMES = 64
NUM_CATEGORIES = 6
PHONEMES_PER_UTTERANCE = 40


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="S", choices=[s for s in SIZES if s != "L"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frames", type=int, default=600, help="frames per utterance, a multiple of 4")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per side (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per side first")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both sides")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = parser.parse_args()
    if args.frames % SUBSAMPLING:
        parser.error(f"--frames {args.frames} is not a multiple of {SUBSAMPLING}")
    return args


def synthetic_batch(batch_size: int, num_frames: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A full-length Batch where every example carries all four labels."""
    rng = np.random.default_rng(seed)
    batch = batch_lib.zeros(batch_size, num_frames, PHONEMES_PER_UTTERANCE)
    batch["logmel"] = rng.standard_normal(batch["logmel"].shape).astype(np.float32)
    batch["phonemes"] = rng.integers(1, NUM_PHONEMES + 1, batch["phonemes"].shape, dtype=np.int32)
    batch["category"] = rng.integers(0, NUM_CATEGORIES, batch_size, dtype=np.int32)
    batch["gender"] = rng.integers(0, 2, batch_size, dtype=np.int32)
    batch["intensity"] = rng.uniform(0, 1, batch_size).astype(np.float32)
    batch["index"] = np.arange(batch_size, dtype=np.int32)
    for key in ("frame_mask", "category_mask", "intensity_mask", "gender_mask", "phoneme_mask", "example_mask"):
        batch[key][:] = True
    return batch


class TorchFrontEnd(nn.Module):
    """The same front end as ours: [B,T,80] -> [B,T/4,D]."""

    def __init__(self, num_mel_bins: int, d_model: int):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(1, d_model, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(d_model, d_model, 3, stride=2, padding=1), nn.ReLU(),
        )
        reduced = ((num_mel_bins - 1) // 2) // 2 + 1
        self.projection = nn.Linear(d_model * reduced, d_model)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.convs(features[:, None])  # [B,D,T/4,F/4]
        b, c, t, f = x.shape
        return self.projection(x.permute(0, 2, 1, 3).reshape(b, t, c * f))


class TorchClassifier(nn.Module):
    """Front end -> torchaudio Conformer -> mean over frames -> linear classifier."""

    def __init__(self, num_layers: int, d_model: int, num_heads: int, ff_mult: int, kernel: int, dropout: float):
        super().__init__()
        self.frontend = TorchFrontEnd(batch_lib.NUM_MEL_BINS, d_model)
        self.conformer = torchaudio.models.Conformer(
            input_dim=d_model, num_heads=num_heads, ffn_dim=ff_mult * d_model, num_layers=num_layers,
            depthwise_conv_kernel_size=kernel, dropout=dropout)
        self.classifier = nn.Linear(d_model, NUM_CATEGORIES)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        frames = self.frontend(features)
        lengths = torch.full((frames.shape[0],), frames.shape[1], dtype=torch.int64)
        encoded, _ = self.conformer(frames, lengths)
        return self.classifier(encoded.mean(dim=1))


def make_ours(size: str, batch: dict[str, np.ndarray]):
    """(compile seconds, a zero-argument function running one of our train steps to completion)."""
    config = base_config(size)
    config.mesh.shape = (1,)
    mesh = mesh_lib.make_mesh(config)
    train_state = state_lib.create_train_state(config, NUM_PHONEMES, NUM_CATEGORIES, mesh)
    device_batch = jax.device_put(batch, mesh_lib.batch_sharding(mesh))
    start = time.perf_counter()
    step = step_lib.make_train_step(train_state, config, mesh).lower(train_state.state, device_batch).compile()
    compile_s = time.perf_counter() - start
    holder = {"state": train_state.state}

    def run() -> None:
        holder["state"], metrics = step(holder["state"], device_batch)
        jax.block_until_ready(metrics)

    return compile_s, run


def make_theirs(size: str, batch: dict[str, np.ndarray]):
    """A zero-argument function running one torchaudio train step (forward, backward, AdamW)."""
    config = base_config(size).model
    torch.manual_seed(0)
    model = TorchClassifier(config.num_layers, config.d_model, config.num_heads, config.ff_mult,
                            config.conv_kernel, config.dropout)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    features = torch.from_numpy(batch["logmel"])
    targets = torch.from_numpy(batch["category"]).long()

    def run() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(features), targets)
        loss.backward()
        optimizer.step()

    return run


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    batch = synthetic_batch(args.batch_size, args.frames)
    compile_s, ours = make_ours(args.size, batch)
    theirs = make_theirs(args.size, batch)
    device = jax.devices()[0]
    print(f"size {args.size}, batch {args.batch_size} x {args.frames} frames, {args.threads} threads; "
          f"jax {jax.__version__} on {device.platform} ({device.device_kind}), torch {torch.__version__}, "
          f"torchaudio {torchaudio.__version__}; ours compiled in {compile_s:.1f} s", flush=True)
    for _ in range(args.warmup):
        ours(), theirs()
    times: dict[str, list[float]] = {"ours": [], "torchaudio": []}
    for i in range(args.steps):
        times["ours"].append(timed(ours))
        times["torchaudio"].append(timed(theirs))
        print(f"  step {i + 1}/{args.steps}: ours {times['ours'][-1]:.3f} s, "
              f"torchaudio {times['torchaudio'][-1]:.3f} s", flush=True)
    ours_s, theirs_s = (statistics.median(times[k]) for k in ("ours", "torchaudio"))
    print(f"median step: ours {ours_s:.3f} s, torchaudio {theirs_s:.3f} s; "
          f"ratio torchaudio/ours = {theirs_s / ours_s:.2f} ({'ours faster' if ours_s < theirs_s else 'ours slower'})")
    if args.json:
        print(json.dumps({
            "size": args.size, "batch_size": args.batch_size, "frames": args.frames, "threads": args.threads,
            "ours_step_s": round(ours_s, 4), "torchaudio_step_s": round(theirs_s, 4),
            "ratio": round(theirs_s / ours_s, 3), "ours_compile_s": round(compile_s, 2),
            "ours_steps_s": [round(t, 4) for t in times["ours"]],
            "torchaudio_steps_s": [round(t, 4) for t in times["torchaudio"]],
        }))


if __name__ == "__main__":
    main()
