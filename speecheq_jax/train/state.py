"""The trainable objects of a run, created already sharded.

`Trainable` bundles the SpeechEQ model with the learned task log-variances
(uncertainty weighting) so one optimizer, one checkpoint and one sharding rule
cover both. `abstract_train_state` gives the static pieces the steps work
with (graph definitions for train and eval mode, shardings, the state's
shapes) without computing anything; `init_train_state` then builds
`(Trainable, nnx.Optimizer)` under `jax.jit` with `out_shardings`, so no
parameter is ever materialised unsharded on one device (big_vision / MaxText
practice). A resumed run restores into the abstract state and never calls
`init_train_state`: the state exists on the devices once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx
from jax.sharding import Mesh

from speecheq_jax.frames import WAVEFORM_ROUTE
from speecheq_jax.heads import head_names
from speecheq_jax.model.speecheq import ModelOutput, SpeechEQ
from speecheq_jax.model.waveform_model import WaveformSpeechEQ
from speecheq_jax.ssl.encoder import SSLEncoder
from speecheq_jax.ssl.extract import wants_normalize
from speecheq_jax.ssl.loader import load_encoder
from speecheq_jax.ssl.route import layout_of, ssl_features
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train.optimizer import make_optimizer

ENCODER_PATH = ("model", "encoder")
"""Where the fine-tuning route's SSL encoder sits in `Trainable` (WaveformSpeechEQ.encoder)."""


class TaskLogVars(nnx.Module):
    """Learned log-variances s_t, one per enabled task (uncertainty weighting)."""

    def __init__(self, tasks: tuple[str, ...]):
        self.values = nnx.Param(jnp.zeros((len(tasks),), jnp.float32))
        self.tasks = tasks

    def as_dict(self) -> dict[str, jax.Array]:
        return {task: self.values[i] for i, task in enumerate(self.tasks)}


class Trainable(nnx.Module):
    """Model plus the optional task log-variances: everything the optimizer updates.

    On the fine-tuning route (`config.data.ssl.finetune` not "frozen") the model is `WaveformSpeechEQ`: the SSL
    encoder (at `model.encoder`, its weights loaded by `init_train_state`) under the SpeechEQ of its states.
    """

    def __init__(self, config: ml_collections.ConfigDict, num_phonemes: int, num_categories: int, rngs: nnx.Rngs):
        features = ssl_features(config.data)
        fine_tuned = features is not None and features.fine_tuned
        model = SpeechEQ(config.model, num_phonemes=num_phonemes, num_categories=num_categories, rngs=rngs,
                         layout=features.states_layout if fine_tuned else layout_of(config.data))
        if fine_tuned:
            model = WaveformSpeechEQ(SSLEncoder(features.encoder, rngs=rngs), model, layers=features.layers,
                                     stored_dtype=None, normalize=wants_normalize(features.checkpoint),
                                     finetuning=features.finetuning)
        self.model = model
        tasks = enabled_tasks(config)
        self.log_vars = TaskLogVars(tasks) if config.tasks.weighting == "uncertainty" else None


def model_output(model: SpeechEQ | WaveformSpeechEQ, batch: dict[str, jax.Array]) -> ModelOutput:
    """A Trainable's model on a Batch (the fine-tuning route's: waveform [B,N], frame_mask [B,N] of samples)."""
    if isinstance(model, WaveformSpeechEQ):
        return model(batch[WAVEFORM_ROUTE.key], batch["frame_mask"])
    return model(batch)


def enabled_tasks(config: ml_collections.ConfigDict) -> tuple[str, ...]:
    """Tasks the run trains, in the head registry's order, from the model's heads."""
    heads = tuple(config.model.heads)
    unknown = sorted(set(heads) - set(head_names()))
    if unknown:
        raise ValueError(f"model.heads has unknown head(s) {unknown}; known: {head_names()}")
    return tuple(t for t in head_names() if t in heads)


@dataclasses.dataclass(frozen=True)
class TrainState:
    """Functional view of (Trainable, nnx.Optimizer) for jitted steps.

    Attributes:
      train_def / eval_def: graph definitions in train mode (dropout on, batch
        statistics) and eval mode (deterministic, running statistics).
      state: the nnx.State pytree of (Trainable, Optimizer); the only thing that
        changes across steps, is donated to the step and is checkpointed. In
        the abstract form (`abstract_train_state`) its leaves are
        ShapeDtypeStructs: that form is what the steps and restores are built
        from, so nothing long-lived holds the arrays.
      shardings: NamedShardings matching `state`.
    """

    train_def: nnx.GraphDef
    eval_def: nnx.GraphDef
    state: nnx.State
    shardings: nnx.State


def _build(config: ml_collections.ConfigDict, num_phonemes: int, num_categories: int
           ) -> tuple[Trainable, nnx.Optimizer]:
    trainable = Trainable(config, num_phonemes, num_categories, nnx.Rngs(params=config.seed, dropout=config.seed + 1))
    features = ssl_features(config.data)
    trained_rows = features.finetuning.trained_rows(ENCODER_PATH) if features is not None and features.fine_tuned \
        else None
    optimizer = nnx.Optimizer(trainable, make_optimizer(config, trained_rows), wrt=nnx.Param)
    return trainable, optimizer


def abstract_train_state(config: ml_collections.ConfigDict, num_phonemes: int, num_categories: int,
                         mesh: Mesh) -> TrainState:
    """Graph definitions, shapes, dtypes and shardings of a run's state, computing nothing.

    What the steps, their ahead-of-time compiles and restores are built from: none of them
    holds an array, so the only state on the devices is the one being trained.

    `num_phonemes` and `num_categories` are the data's output sizes
    (`len(spec.vocab)`, `len(spec.categories)`).
    """
    graphdef, abstract_state = nnx.split(nnx.eval_shape(lambda: _build(config, num_phonemes, num_categories)))
    shardings = mesh_lib.state_shardings(abstract_state, mesh, config.mesh.fsdp_min_size)
    abstract_state = jax.tree.map(
        lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), abstract_state, shardings)
    return TrainState(*_graph_defs(graphdef, abstract_state), state=abstract_state, shardings=shardings)


def init_train_state(config: ml_collections.ConfigDict, num_phonemes: int, num_categories: int,
                     abstract: TrainState) -> nnx.State:
    """A fresh run's parameters and optimizer state, born with `abstract`'s shardings (arrays only)."""
    state = jax.jit(lambda: nnx.state(_build(config, num_phonemes, num_categories)),
                    out_shardings=abstract.shardings)()
    features = ssl_features(config.data)
    if features is not None and features.fine_tuned:
        _load_encoder_weights(state, abstract.shardings, features.checkpoint)
    return state


def _load_encoder_weights(state: nnx.State, shardings: nnx.State, checkpoint: Path) -> None:
    """Replaces the (randomly initialised) encoder of a fresh fine-tuning state with `checkpoint`'s weights, placed
    by the state's own shardings (the encoder's Adam moments start at zero whatever its values)."""
    encoder, _ = load_encoder(checkpoint)
    trainable, sharding = state[0], shardings[0]
    for name in ENCODER_PATH:
        trainable, sharding = trainable[name], sharding[name]
    loaded = nnx.state(encoder)
    for path, value in nnx.to_flat_state(loaded):
        target, place = trainable, sharding
        for key in path[:-1]:
            target, place = target[key], place[key]
        target[path[-1]].set_value(jax.device_put(value.get_value(), place[path[-1]].get_value()))


def create_train_state(config: ml_collections.ConfigDict, num_phonemes: int, num_categories: int,
                       mesh: Mesh) -> TrainState:
    """`abstract_train_state` with its state initialised: for tests and benches that step one state by hand."""
    abstract = abstract_train_state(config, num_phonemes, num_categories, mesh)
    return dataclasses.replace(abstract, state=init_train_state(config, num_phonemes, num_categories, abstract))


def _graph_defs(graphdef: nnx.GraphDef, state: nnx.State) -> tuple[nnx.GraphDef, nnx.GraphDef]:
    """Train- and eval-mode graph definitions over the same state structure."""
    trainable, optimizer = nnx.merge(graphdef, state)
    trainable.train()
    train_def, _ = nnx.split((trainable, optimizer))
    trainable.eval()
    eval_def, _ = nnx.split((trainable, optimizer))
    return train_def, eval_def
