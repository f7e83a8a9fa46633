"""Sanity check of the phoneme path: overfit ONE training batch with the CTC head alone.

The demo's 400 steps leave the CTC head in its blank plateau (PER near 1), so
this shows the loss, the frame masks, the vocabulary mapping and greedy
decoding work together: PER on the memorised batch must fall to about 0.

    python bench/ctc_overfit.py [--config configs/demo.py] [--steps 300]

Uses the datasets that config prepares (run the demo, or --mode prepare, first).
"""

from __future__ import annotations

import argparse
import importlib.util

import jax

from speecheq_jax.heads.ctc_decode import ctc_greedy_decode, edit_distance
from speecheq_jax.input import pipeline
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import state as state_lib
from speecheq_jax.train import step as step_lib


def _load_config(path: str):
    spec = importlib.util.spec_from_file_location("experiment_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/demo.py")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch_size", type=int, default=8)
    args = parser.parse_args()

    config = _load_config(args.config)
    config.model.heads = ("phoneme",)
    config.tasks.weights["phoneme"] = 1.0
    config.data.batch_size = args.batch_size
    config.data.specaugment.freq_masks = config.data.specaugment.time_masks = 0
    config.train.num_steps = args.steps
    config.optim.warmup_steps = 50
    mesh = mesh_lib.make_mesh(config)
    spec = pipeline.load_spec(config.data)
    train_state = state_lib.create_train_state(config, len(spec.vocab), len(spec.categories), mesh)
    batch = next(pipeline.make_train_iterator(config.data, mesh))
    train_step = step_lib.make_train_step(train_state, config, mesh)
    eval_step = step_lib.make_eval_step(train_state, config, mesh)
    host = jax.device_get(batch)
    references = [p[m].tolist() for p, m in zip(host["phonemes"], host["phoneme_mask"])]
    state = train_state.state
    print(f"{'step':>5} {'ctc/token':>10} {'PER':>6}")
    for step in range(1, args.steps + 1):
        state, metrics = train_step(state, batch)
        if step % 50 == 0 or step == args.steps:
            outputs = jax.device_get(eval_step(state, batch)[0])
            hypotheses = ctc_greedy_decode(outputs["phoneme_ids"], outputs["out_mask"])
            edits = sum(edit_distance(r, h) for r, h in zip(references, hypotheses))
            per = edits / sum(map(len, references))
            print(f"{step:>5} {float(metrics['loss_phoneme']):>10.4f} {per:>6.3f}", flush=True)


if __name__ == "__main__":
    main()
