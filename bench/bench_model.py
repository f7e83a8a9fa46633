"""Model benchmark: parameters, compile time, forward+backward step time, XLA FLOPs, TFLOP/s.

For each size it jits one forward+backward pass of SpeechEQ (train mode, all heads) on a random
batch of B x T log-mel frames and prints one table row. The loss is a stand-in (mean square of every
output) because the real losses live in the train package; the model, not the loss, dominates the
cost. FLOPs come from XLA's cost analysis of the same step with the layer scan fully unrolled (the
analysis counts a loop body once), so TFLOP/s = FLOPs / step time is what the hardware achieved on
this program (no hand-counted FLOPs). The timed program is the scanned one the project trains with.

    python bench/bench_model.py --sizes tiny,S,M --dtype float32 --steps 3
    python bench/bench_model.py --sizes S,M,L --dtype bfloat16 --steps 20   # on a GPU
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from speecheq_jax import allocator

if __name__ == "__main__":  # as main.py: the host allocator the project trains with
    allocator.reexec_with_tcmalloc()

import jax  # noqa: E402  (after the allocator choice)
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm import tqdm

from speecheq_jax import labels
from speecheq_jax.frames import SUBSAMPLING
from speecheq_jax.input import batch as batch_lib
from speecheq_jax.model.model_config import SIZES, default_model_config
from speecheq_jax.model.params import count_params
from speecheq_jax.model.speecheq import SpeechEQ


@dataclasses.dataclass
class BenchRow:
    """One measured size."""

    size: str
    params: int
    compile_s: float
    step_s: float
    gflops_per_step: float

    @property
    def tflops_per_s(self) -> float:
        return self.gflops_per_step / 1e3 / self.step_s


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="tiny,S,M", help=f"comma-separated subset of {list(SIZES)}")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="computation dtype")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frames", type=int, default=600, help="frames per utterance, a multiple of 4")
    parser.add_argument("--num-phonemes", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per size (after one warm-up step)")
    args = parser.parse_args()
    unknown = [s for s in args.sizes.split(",") if s not in SIZES]
    if unknown:
        parser.error(f"--sizes: unknown size(s) {unknown}; choose from {list(SIZES)}")
    if args.frames % SUBSAMPLING:
        parser.error(f"--frames {args.frames} is not a multiple of {SUBSAMPLING} (the front end's subsampling)")
    return args


def random_batch(batch_size: int, num_frames: int) -> dict[str, jax.Array]:
    """A full-length Batch (no padding) with N(0,1) log-mel, so every frame costs compute."""
    batch = batch_lib.zeros(batch_size, num_frames, max_phonemes=1)
    batch["logmel"] = np.random.default_rng(0).standard_normal(batch["logmel"].shape).astype(np.float32)
    batch["frame_mask"][:] = True
    return {k: jnp.asarray(v) for k, v in batch.items()}


def stand_in_loss(model: SpeechEQ, batch: dict[str, jax.Array]) -> jax.Array:
    """Mean square of every model output: exercises all heads without the train package's losses."""
    output = model(batch)
    return sum(jnp.mean(jnp.square(x)) for x in jax.tree.leaves(output) if jnp.issubdtype(x.dtype, jnp.floating))


def _model_and_step(size: str, args: argparse.Namespace, **overrides):
    """(model, its jitted forward+backward step, the step's arguments) for one size."""
    config = default_model_config(size)
    config.dtype = args.dtype
    config.update(overrides)
    # The whole taxonomy: the largest category head any run can have.
    model = SpeechEQ(config, num_phonemes=args.num_phonemes, num_categories=len(labels.CATEGORIES),
                     rngs=nnx.Rngs(params=0, dropout=1))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def step(params: nnx.State, rest: nnx.State, batch: dict) -> tuple[jax.Array, jax.Array]:
        """Loss and gradient norm (returning a reduction keeps XLA from dropping the backward pass)."""
        loss, grads = nnx.value_and_grad(stand_in_loss)(nnx.merge(graphdef, params, rest), batch)
        return loss, optax.tree.norm(grads)

    return model, jax.jit(step), (params, rest, random_batch(args.batch_size, args.frames))


def bench_size(size: str, args: argparse.Namespace) -> BenchRow:
    """Builds, compiles and times one size; returns its row."""
    model, step, step_args = _model_and_step(size, args)
    params, rest, batch = step_args
    start = time.perf_counter()
    compiled = step.lower(*step_args).compile()
    compile_s = time.perf_counter() - start
    _, unrolled, unrolled_args = _model_and_step(size, args, scan_unroll=model.encoder.num_layers)
    cost = unrolled.lower(*unrolled_args).cost_analysis()
    flops = (cost[0] if isinstance(cost, list) else cost)["flops"]

    jax.block_until_ready(compiled(params, rest, batch))  # warm-up
    times = []
    for _ in tqdm(range(args.steps), desc=f"{size} steps", leave=False):
        start = time.perf_counter()
        jax.block_until_ready(compiled(params, rest, batch))
        times.append(time.perf_counter() - start)
    return BenchRow(size, count_params(model), compile_s, statistics.median(times), flops / 1e9)


def main() -> None:
    args = parse_args()
    device = jax.devices()[0]
    print(f"device: {device.platform} ({device.device_kind}) x{jax.device_count()}, dtype {args.dtype}, "
          f"batch {args.batch_size} x {args.frames} frames, median of {args.steps} steps")
    print(f"{'size':<5} {'params':>12} {'compile s':>10} {'step ms':>10} {'GFLOP/step':>11} {'TFLOP/s':>8}")
    for size in args.sizes.split(","):
        row = bench_size(size, args)
        print(f"{row.size:<5} {row.params:>12,} {row.compile_s:>10.1f} {row.step_s * 1e3:>10.0f} "
              f"{row.gflops_per_step:>11.1f} {row.tflops_per_s:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
