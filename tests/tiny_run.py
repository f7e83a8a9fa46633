"""The tiny demo run the integration tests train, and a checkpoint's parameters as numpy.

A 48-file SEQD-synth corpus (both languages), batches of 8 in two buckets, a conformer of
`num_layers` blocks of width 32: small enough that a run of a few steps takes seconds.
"""

from __future__ import annotations

from pathlib import Path

import jax
import ml_collections
import numpy as np
from flax import nnx

from speecheq_jax.input import pipeline
from speecheq_jax.train import checkpoint as checkpoint_lib
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import state as state_lib
from tests.test_configs import load_config_module

BEST = "valid/overall/category/ua"


def tiny_demo_config(data_dir: Path, *, steps: int = 4, devices: int = -1, synth_seed: int = 0,
                     num_layers: int = 1) -> ml_collections.ConfigDict:
    """configs/demo.py shrunk: `steps` steps on `devices` devices (-1: all), logging every step, validating every 2."""
    config = load_config_module("demo").get_config(f"steps={steps}")
    config.data.synth = {"num": 48, "seed": synth_seed, "langs": ("cmn", "eng")}
    return shrink(config, data_dir, devices=devices, num_layers=num_layers)


def shrink(config: ml_collections.ConfigDict, data_dir: Path, *, batch_size: int = 8,
           buckets: tuple[int, ...] = (384, 768), steps: int | None = None, devices: int = -1,
           num_layers: int = 1) -> ml_collections.ConfigDict:
    """Any config at the tiny-run scale: a width-32 model of `num_layers` blocks, batches of `batch_size` in
    `buckets`, `steps` steps (None: the config's), logging every step, validating every 2, on `devices`."""
    config.data.data_dir = str(data_dir)
    config.data.batch_size = batch_size
    config.data.buckets = buckets
    config.model.update({"num_layers": num_layers, "d_model": 32, "num_heads": 2, "pooling_attention_dim": 16})
    config.optim.warmup_steps = 1
    config.train.update({"log_every": 1, "eval_every": 2, "num_steps": steps or config.train.num_steps})
    config.mesh.shape = (devices,)
    return config


def checkpoint_params(workdir: Path, config: ml_collections.ConfigDict, step: int) -> list[np.ndarray]:
    """The model parameters (nnx.Param leaves) saved at `step` under `workdir`, in tree order."""
    mesh = mesh_lib.make_mesh(config)
    spec = pipeline.load_spec(config.data)
    target = state_lib.abstract_train_state(config, len(spec.vocab), len(spec.categories), mesh)
    ckpt = checkpoint_lib.Checkpointer(workdir, best_metric=checkpoint_lib.best_metric_name(config))
    state = ckpt.restore(step, target)
    ckpt.close()
    _, params, _ = nnx.split(nnx.merge(target.train_def, state), nnx.Param, ...)
    return [np.asarray(p) for p in jax.tree.leaves(params)]
