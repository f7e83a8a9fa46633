"""Our full train step against torchaudio's Conformer of the same shape, on this machine.

Ours is the project's own jitted step (`train.step.make_train_step`): the conformer, all four
heads and their losses (category and gender cross-entropy, intensity regression, phoneme CTC), the
per-task scaling, gradient clipping and AdamW, with the train state donated. Theirs is
`torchaudio.models.Conformer` from the PyPI package, behind the same front end (two 3x3 stride-2
Conv2d + ReLU, then a linear projection to d_model), with the same d_model, layers, heads,
feed-forward size and depthwise kernel, a mean-pooled linear classifier, cross-entropy and
`torch.optim.AdamW`, run eagerly (the way a user would). Both see the same batch (B x T log-mel
frames, no padding) and the same number of threads. `ratio` = torchaudio step time / our step
time: above 1 we are faster.

Each side runs in its own worker process, as a user runs one framework per process, and the two
never live at the same time: in each of `--rounds` rounds our worker starts, compiles, warms up,
times `--steps` steps and exits, then torchaudio's does the same. Each side's figure is the median
of all its timed steps; alternating rounds spread a machine's drift over both sides. Two live
workers interfere: a side whose glibc malloc faults pages in every step slows down while the
other's idle worker holds gigabytes (this script's earlier alternating form gave our glibc step
2.6-2.9 s where the isolated rounds give 2.0 s), and right after a torch step its OpenMP threads
keep spinning for a while, so each timed step also starts after `--gap` idle seconds.

Host allocator: our worker runs under tcmalloc when it is installed, as `python -m
speecheq_jax.main` does (speecheq_jax/allocator.py); torchaudio's runs with the default glibc
malloc, as a user runs it, unless `--torch-tcmalloc` gives it tcmalloc too (torch gains from it as
well). `--ours-malloc system` times ours under glibc, the allocator before. The first line says
which allocator each side had.

    pip install -r bench/requirements.txt        # torch + torchaudio, bench only
    python bench/bench_vs_torchaudio.py --size S --json
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from speecheq_jax import allocator
from speecheq_jax.frames import NUM_MELS, SUBSAMPLING
from speecheq_jax.input import batch as batch_lib
from speecheq_jax.model.model_config import REMATS, SIZES
from speecheq_jax.run_config import base_config

NUM_PHONEMES = 64
NUM_CATEGORIES = 6
PHONEMES_PER_UTTERANCE = 40


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="S", choices=[s for s in SIZES if s != "L"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frames", type=int, default=600, help="frames per utterance, a multiple of 4")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per side and round (median reported)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (ours, then torchaudio)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per side first")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both sides")
    parser.add_argument("--gap", type=float, default=1.0,
                        help="idle seconds before each timed step (torch's OpenMP pool spins after a step)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    parser.add_argument("--torch-tcmalloc", action="store_true",
                        help="run torchaudio's worker under tcmalloc too (ours always uses it when installed)")
    parser.add_argument("--ours-malloc", choices=["tcmalloc", "system"], default="tcmalloc",
                        help="our worker's host allocator (system: glibc malloc, what we ran before)")
    parser.add_argument("--remat", choices=REMATS, default=None,
                        help="our model.remat (default: the config's; 'none' was the default before)")
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


def _torch_classifier(num_layers: int, d_model: int, num_heads: int, ff_mult: int, kernel: int, dropout: float):
    """Front end (the same as ours: [B,T,80] -> [B,T/4,D]) -> torchaudio Conformer -> mean -> linear."""
    import torch
    import torchaudio
    from torch import nn

    reduced = ((NUM_MELS - 1) // 2) // 2 + 1

    class TorchClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.Sequential(
                nn.Conv2d(1, d_model, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(d_model, d_model, 3, stride=2, padding=1), nn.ReLU(),
            )
            self.projection = nn.Linear(d_model * reduced, d_model)
            self.conformer = torchaudio.models.Conformer(
                input_dim=d_model, num_heads=num_heads, ffn_dim=ff_mult * d_model, num_layers=num_layers,
                depthwise_conv_kernel_size=kernel, dropout=dropout)
            self.classifier = nn.Linear(d_model, NUM_CATEGORIES)

        def forward(self, features):
            x = self.convs(features[:, None])  # [B,D,T/4,F/4]
            b, c, t, f = x.shape
            frames = self.projection(x.permute(0, 2, 1, 3).reshape(b, t, c * f))
            lengths = frames.new_full((b,), t, dtype=torch.int64)
            encoded, _ = self.conformer(frames, lengths)
            return self.classifier(encoded.mean(dim=1))

    return TorchClassifier()


def make_ours(size: str, batch: dict[str, np.ndarray], threads: int, remat: str | None = None
              ) -> tuple[float, Callable[[], None]]:
    """(compile seconds, a zero-argument function running one of our train steps to completion)."""
    del threads  # XLA:CPU uses every core of the machine; --threads is the machine's core count by default
    import jax

    from speecheq_jax.train import mesh as mesh_lib
    from speecheq_jax.train import state as state_lib
    from speecheq_jax.train import step as step_lib

    config = base_config(size)
    config.mesh.shape = (1,)
    if remat is not None:
        config.model.remat = remat
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


def make_theirs(size: str, batch: dict[str, np.ndarray], threads: int) -> tuple[float, Callable[[], None]]:
    """(0, a zero-argument function running one torchaudio train step: forward, backward, AdamW)."""
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    config = base_config(size).model
    torch.manual_seed(0)
    model = _torch_classifier(config.num_layers, config.d_model, config.num_heads, config.ff_mult,
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

    return 0.0, run


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{name} {version(name)}" for name in ("jax", "jaxlib", "torch", "torchaudio"))


def _worker(make: Callable, args: argparse.Namespace, connection) -> None:
    """One side in its own process: builds its step, then times one step per request."""
    batch = synthetic_batch(args.batch_size, args.frames)
    compile_s, step = make(args.size, batch, args.threads)
    connection.send(compile_s)
    while connection.recv():
        connection.send(timed(step))


class _Side:
    """One side's step in its own worker process, timed step by step on request.

    `tcmalloc`: whether the worker starts with tcmalloc preloaded (when it is installed).
    """

    def __init__(self, make: Callable, args: argparse.Namespace, tcmalloc: bool):
        base = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        env = allocator.with_tcmalloc(base) if tcmalloc else base | {allocator.SWITCH: "system"}
        self.allocator = "tcmalloc" if allocator.preloaded(env) else "glibc"
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(make, args, child), daemon=True)
        saved = dict(os.environ)
        os.environ.clear(), os.environ.update(env)  # a spawned worker starts with this environment
        try:
            self.process.start()
        finally:
            os.environ.clear(), os.environ.update(saved)
        self.compile_s = self.connection.recv()

    def step(self, gap: float = 0.0) -> float:
        time.sleep(gap)
        self.connection.send(True)
        return self.connection.recv()

    def close(self) -> None:
        self.connection.send(False)
        self.process.join()


def time_side(make: Callable, args: argparse.Namespace, tcmalloc: bool) -> tuple[_Side, list[float]]:
    """Starts one side's worker, warms it up, times `args.steps` steps, and stops it."""
    side = _Side(make, args, tcmalloc)
    for _ in range(args.warmup):
        side.step()
    times = [side.step(args.gap) for _ in range(args.steps)]
    side.close()
    return side, times


@dataclasses.dataclass
class Rounds:
    """Every step time of both sides over alternating rounds, each round's compile time and the allocators."""

    ours: list[float]
    theirs: list[float]
    compile_s: list[float]
    ours_allocator: str
    theirs_allocator: str


def alternate_rounds(make_ours: Callable, make_theirs: Callable, args: argparse.Namespace, *, ours_tcmalloc: bool,
                     theirs_tcmalloc: bool, label: str, theirs_name: str) -> Rounds:
    """`args.rounds` rounds, ours then theirs in each (`time_side`: never both alive), one line per round."""
    rounds = Rounds([], [], [], "", "")
    for round_index in range(args.rounds):
        ours, ours_times = time_side(make_ours, args, tcmalloc=ours_tcmalloc)
        theirs, their_times = time_side(make_theirs, args, tcmalloc=theirs_tcmalloc)
        rounds.ours += ours_times
        rounds.theirs += their_times
        rounds.compile_s.append(ours.compile_s)
        rounds.ours_allocator, rounds.theirs_allocator = ours.allocator, theirs.allocator
        print(f"  {label}round {round_index + 1}/{args.rounds}: ours ({ours.allocator}, compiled in "
              f"{ours.compile_s:.1f} s) {' '.join(f'{t:.3f}' for t in ours_times)} s; {theirs_name} "
              f"({theirs.allocator}) {' '.join(f'{t:.3f}' for t in their_times)} s", flush=True)
    return rounds


def main() -> None:
    args = parse_args()
    print(f"size {args.size}, batch {args.batch_size} x {args.frames} frames, {args.threads} threads, "
          f"{args.rounds} rounds of {args.steps} steps per side; {_versions()}", flush=True)
    rounds = alternate_rounds(functools.partial(make_ours, remat=args.remat), make_theirs, args,
                              ours_tcmalloc=args.ours_malloc == "tcmalloc", theirs_tcmalloc=args.torch_tcmalloc,
                              label="", theirs_name="torchaudio")
    compile_s = rounds.compile_s
    ours_s, theirs_s = statistics.median(rounds.ours), statistics.median(rounds.theirs)
    print(f"median step: ours {ours_s:.3f} s, torchaudio {theirs_s:.3f} s; "
          f"ratio torchaudio/ours = {theirs_s / ours_s:.2f} ({'ours faster' if ours_s < theirs_s else 'ours slower'})")
    if args.json:
        print(json.dumps({
            "size": args.size, "batch_size": args.batch_size, "frames": args.frames, "threads": args.threads,
            "ours_allocator": rounds.ours_allocator, "torchaudio_allocator": rounds.theirs_allocator,
            "ours_remat": args.remat,
            "ours_step_s": round(ours_s, 4), "torchaudio_step_s": round(theirs_s, 4),
            "ratio": round(theirs_s / ours_s, 3), "ours_compile_s": round(compile_s[0], 2),
            "ours_compile_s_per_round": [round(c, 2) for c in compile_s],
            "ours_steps_s": [round(t, 4) for t in rounds.ours],
            "torchaudio_steps_s": [round(t, 4) for t in rounds.theirs],
        }))


if __name__ == "__main__":
    main()
