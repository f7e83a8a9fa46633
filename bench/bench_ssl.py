"""Our jitted SSL encoder (speecheq_jax.ssl) against transformers' PyTorch one, same weights, on this machine.

Both sides load ONE random-weight checkpoint (transformers' init, seed 0, the architecture's default
base config: 7 convs, 12 layers x 768, 12 heads; saved with save_pretrained), so they compute the same
function. Timed, on `--seconds` of audio (one utterance, no padding):

* forward: all hidden states (ours: the jitted module; theirs: `model(x, output_hidden_states=True)`
  under torch.inference_mode, eagerly, the way a user runs it); real-time factor = time / audio seconds;
* fine-tuning step: forward + backward of an L2 loss on the time-mean of the last hidden state (so
  the gradient flows through every layer and the conv stack) + AdamW (ours: jax.jit with the state
  donated, optax.adamw; theirs: torch.optim.AdamW, the model in eval mode so neither side drops out).

* partial fine-tuning (`--finetune`, ours only; ssl/finetune.py): the same step with a switch such as
  "top:2" or "all", the optimizer on the trained part only (train/optimizer.py `train_only`), gradients
  taken for every parameter as the project's trainer does; timed with the frozen part under
  stop_gradient (`FineTuning.forward`) against the plain forward (the same masked update, but the
  backward pass runs through the frozen part: what stop_gradient saves).

`ratio` = PyTorch time / our time: above 1 we are faster. The rounds, worker processes, warm-up,
idle gaps and allocators are bench_vs_torchaudio.py's (`alternate_rounds`, `time_side`; see its docstring): in each of
`--rounds` rounds each side's worker starts, builds and compiles, warms up, times `--steps` steps and
exits before the next starts; each figure is the median over all rounds. Threads: torch gets
`torch.set_num_threads(--threads)`, the machine's core count by default; XLA:CPU always uses every
core, so keep `--threads` at the default for a like-for-like comparison.

    pip install -r requirements-ssl.txt         # torch + transformers, bench and tests only
    python bench/bench_ssl.py --arch wav2vec2 --json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np
from bench_vs_torchaudio import alternate_rounds  # same directory: run as `python bench/bench_ssl.py`

SAMPLE_RATE = 16000
ARCHITECTURES = ("wav2vec2", "hubert", "wavlm")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="wav2vec2", choices=ARCHITECTURES,
                        help="base model with its config's defaults (group norm, post-LN)")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per side and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (ours, then PyTorch), per measurement")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per side first")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (XLA uses every core)")
    parser.add_argument("--gap", type=float, default=1.0, help="idle seconds before each timed step")
    parser.add_argument("--skip-train", action="store_true", help="time the forward pass only")
    parser.add_argument("--finetune", nargs="*", default=["top:2", "all"],
                        help="fine-tuning switches to time (ours, stop_gradient forward against the plain one)")
    parser.add_argument("--finetune-only", action="store_true", help="time the --finetune switches only")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    parser.add_argument("--torch-tcmalloc", action="store_true", help="run PyTorch's worker under tcmalloc too")
    args = parser.parse_args()
    # time_side's worker builds a synthetic batch of this size and passes `size`: both unused here
    args.batch_size, args.frames, args.size = 1, 4, args.arch
    return args


def torch_classes(arch: str) -> tuple[type, type]:
    import transformers

    return {"wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
            "hubert": (transformers.HubertConfig, transformers.HubertModel),
            "wavlm": (transformers.WavLMConfig, transformers.WavLMModel)}[arch]


def save_checkpoint(arch: str, directory: Path) -> None:
    """A random-weight base model of `arch` (seed 0), saved with save_pretrained."""
    import torch

    config_class, model_class = torch_classes(arch)
    torch.manual_seed(0)
    model_class(config_class()).save_pretrained(directory)


def inputs(seconds: float, hidden_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(waveform float32 [1, N], L2 target float32 [1, D]), the same on both sides."""
    rng = np.random.default_rng(0)
    waveform = rng.normal(0.0, 0.3, (1, int(seconds * SAMPLE_RATE))).astype(np.float32)
    return waveform, rng.normal(0.0, 1.0, (1, hidden_size)).astype(np.float32)


def make_ours(size: str, batch: object, threads: int, *, checkpoint: str, seconds: float, train: bool,
              finetune: str | None = None, stop_gradient: bool = True) -> tuple[float, Callable[[], None]]:
    """(compile seconds, one forward or fine-tuning step of ours run to completion). `time_side`'s signature.

    finetune: a switch (ssl/finetune.py) for a partial fine-tuning step, its frozen part under stop_gradient
    or not; None: every parameter trains.
    """
    del size, batch, threads
    import jax  # in the worker only: the parent process never holds JAX or torch state
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from speecheq_jax.ssl import load_encoder
    from speecheq_jax.ssl.finetune import parse_finetune
    from speecheq_jax.train.optimizer import train_only

    module, config = load_encoder(checkpoint)
    waveform, target = (jnp.asarray(a) for a in inputs(seconds, config.hidden_size))
    graphdef, params, rest = nnx.split(module, nnx.Param, ...)
    if train:
        optimizer = optax.adamw(1e-5)
        finetuning = None if finetune is None else parse_finetune(finetune, config)
        if finetuning is not None:
            optimizer = train_only(optimizer, finetuning.trained_rows())

        def loss_fn(params: nnx.State) -> jax.Array:
            encoder = nnx.merge(graphdef, params, rest)
            out = finetuning.forward(encoder, waveform) if finetuning and stop_gradient else encoder(waveform)
            pooled = out.last_hidden_state.mean(axis=1)
            return jnp.sum((pooled - target) ** 2)

        @functools.partial(jax.jit, donate_argnums=(0, 1))
        def step(params: nnx.State, opt_state: optax.OptState) -> tuple[nnx.State, optax.OptState, jax.Array]:
            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss

        holder = {"params": params, "opt_state": optimizer.init(params)}
        start = time.perf_counter()
        compiled = step.lower(holder["params"], holder["opt_state"]).compile()
        compile_s = time.perf_counter() - start

        def run() -> None:
            holder["params"], holder["opt_state"], loss = compiled(holder["params"], holder["opt_state"])
            jax.block_until_ready(loss)

        return compile_s, run

    forward = jax.jit(lambda params, x: nnx.merge(graphdef, params, rest)(x).hidden_states)
    start = time.perf_counter()
    compiled_forward = forward.lower(params, waveform).compile()
    compile_s = time.perf_counter() - start
    return compile_s, lambda: jax.block_until_ready(compiled_forward(params, waveform))


def make_theirs(size: str, batch: object, threads: int, *, checkpoint: str, seconds: float, train: bool
                ) -> tuple[float, Callable[[], None]]:
    """(0, one forward or fine-tuning step of transformers' model). `time_side`'s signature."""
    del size, batch
    import torch

    torch.set_num_threads(threads)
    model = torch_classes(json.loads((Path(checkpoint) / "config.json").read_text())["model_type"])[1]
    model = model.from_pretrained(checkpoint).eval()
    waveform, target = (torch.from_numpy(a) for a in inputs(seconds, model.config.hidden_size))
    if not train:
        def forward() -> None:
            with torch.inference_mode():
                model(waveform, output_hidden_states=True)

        return 0.0, forward
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = ((model(waveform).last_hidden_state.mean(dim=1) - target) ** 2).sum()
        loss.backward()
        optimizer.step()

    return 0.0, step


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def measure(args: argparse.Namespace, checkpoint: str, train: bool) -> dict[str, object]:
    """Median step seconds of ours and PyTorch's over alternating rounds, with every sample."""
    options = {"checkpoint": checkpoint, "seconds": args.seconds, "train": train}
    rounds = alternate_rounds(functools.partial(make_ours, **options), functools.partial(make_theirs, **options), args,
                              ours_tcmalloc=True, theirs_tcmalloc=args.torch_tcmalloc,
                              label="fine-tuning step " if train else "forward ", theirs_name="PyTorch")
    ours_s, torch_s = statistics.median(rounds.ours), statistics.median(rounds.theirs)
    return {"ours_s": round(ours_s, 4), "torch_s": round(torch_s, 4), "ratio": round(torch_s / ours_s, 3),
            "ours_compile_s": [round(c, 2) for c in rounds.compile_s],
            "ours_samples_s": [round(t, 4) for t in rounds.ours], "torch_samples_s": [round(t, 4) for t in rounds.theirs],
            "ours_allocator": rounds.ours_allocator, "torch_allocator": rounds.theirs_allocator}


def measure_finetune(args: argparse.Namespace, checkpoint: str, switch: str) -> dict[str, object]:
    """Median fine-tuning step seconds of ours with `switch`: frozen part under stop_gradient, and not."""
    options = {"checkpoint": checkpoint, "seconds": args.seconds, "train": True, "finetune": switch}
    rounds = alternate_rounds(functools.partial(make_ours, **options),
                              functools.partial(make_ours, **options, stop_gradient=False), args,
                              ours_tcmalloc=True, theirs_tcmalloc=True, label=f"fine-tuning step {switch} ",
                              theirs_name="ours without stop_gradient")
    staged_s, plain_s = statistics.median(rounds.ours), statistics.median(rounds.theirs)
    return {"stop_gradient_s": round(staged_s, 4), "plain_s": round(plain_s, 4), "saving": round(plain_s / staged_s, 3),
            "stop_gradient_samples_s": [round(t, 4) for t in rounds.ours],
            "plain_samples_s": [round(t, 4) for t in rounds.theirs]}


def main() -> None:
    args = parse_args()
    versions = ", ".join(f"{name} {version(name)}" for name in ("jax", "flax", "torch", "transformers"))
    print(f"{args.arch} base (12 x 768), {args.seconds:g} s of audio, CPU {cpu_model()}, {os.cpu_count()} cores, "
          f"torch threads {args.threads} (XLA: all cores), {args.rounds} rounds x {args.steps} steps per side; "
          f"{versions}", flush=True)
    results: dict[str, object] = {"arch": args.arch, "seconds": args.seconds, "cpu": cpu_model(),
                                  "cores": os.cpu_count(), "torch_threads": args.threads, "versions": versions}
    with tempfile.TemporaryDirectory() as checkpoint:
        save_checkpoint(args.arch, Path(checkpoint))
        if not args.finetune_only:
            results["forward"] = measure(args, checkpoint, train=False)
        if not args.skip_train and not args.finetune_only:
            results["train"] = measure(args, checkpoint, train=True)
        results["finetune"] = {switch: measure_finetune(args, checkpoint, switch) for switch in args.finetune}
    for switch, row in results["finetune"].items():
        print(f"fine-tune step {switch}: {row['stop_gradient_s']:.3f} s with stop_gradient, {row['plain_s']:.3f} s "
              f"without (x{row['saving']:.2f})")
    if "forward" in results:
        print(f"\n{'':22}{'ours':>10}{'PyTorch':>10}{'ratio':>8}")
        for kind, label in (("forward", "forward s"), ("train", "fine-tune step s")):
            if kind in results:
                row = results[kind]
                print(f"{label:22}{row['ours_s']:>10.3f}{row['torch_s']:>10.3f}{row['ratio']:>8.2f}")
                if kind == "forward":
                    print(f"{'real-time factor':22}{row['ours_s'] / args.seconds:>10.3f}"
                          f"{row['torch_s'] / args.seconds:>10.3f}")
        print("ratio = PyTorch time / ours (above 1: ours faster)")
    if "forward" in results:
        forward = results["forward"]
        results["rtf_ours"] = round(forward["ours_s"] / args.seconds, 4)
        results["rtf_torch"] = round(forward["torch_s"] / args.seconds, 4)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
