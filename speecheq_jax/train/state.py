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

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx
from jax.sharding import Mesh

from speecheq_jax.heads import head_names
from speecheq_jax.model.speecheq import SpeechEQ
from speecheq_jax.ssl.route import layout_of
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train.optimizer import make_optimizer


class TaskLogVars(nnx.Module):
    """Learned log-variances s_t, one per enabled task (uncertainty weighting)."""

    def __init__(self, tasks: tuple[str, ...]):
        self.values = nnx.Param(jnp.zeros((len(tasks),), jnp.float32))
        self.tasks = tasks

    def as_dict(self) -> dict[str, jax.Array]:
        return {task: self.values[i] for i, task in enumerate(self.tasks)}


class Trainable(nnx.Module):
    """Model plus the optional task log-variances: everything the optimizer updates."""

    def __init__(self, config: ml_collections.ConfigDict, num_phonemes: int, num_categories: int, rngs: nnx.Rngs):
        self.model = SpeechEQ(config.model, num_phonemes=num_phonemes, num_categories=num_categories, rngs=rngs,
                              layout=layout_of(config.data))
        tasks = enabled_tasks(config)
        self.log_vars = TaskLogVars(tasks) if config.tasks.weighting == "uncertainty" else None


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
    optimizer = nnx.Optimizer(trainable, make_optimizer(config), wrt=nnx.Param)
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
    return jax.jit(lambda: nnx.state(_build(config, num_phonemes, num_categories)),
                   out_shardings=abstract.shardings)()


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
