"""The SpeechEQ model: one conformer encoder shared by the configured heads.

    batch["logmel"] [B,T,80] (or, on the SSL route, batch["ssl_states"] [B,T,K,D]), batch["frame_mask"] [B,T]
      -> ConformerEncoder (the route's front end) -> frames [B,T',D], out_mask [B,T'] (T' = T/4, SSL: T/2)
      -> per frame head: Linear; per utterance head: attentive stats pooling -> MLP
      -> each head's activation (its spec, speecheq_jax/heads/)

Which heads exist is configuration (`model.heads`, any subset of the head registry), so
single-task training and every ablation run the same code. With `model.shared_pooling` the
utterance heads share one attentive pooling (one set of frame weights), otherwise each has its
own. Parameters are float32; computation runs in `model.dtype`; every output leaves the model as
float32.

Parameter paths: utterance head X lives at `utterance_heads/X`, its pooling at `poolings/X` (or
`poolings/shared`), frame head X at `X_head` (`phoneme_head`), the paths of every checkpoint
written so far.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx, struct

from speecheq_jax.frames import LOGMEL, FeatureLayout
from speecheq_jax.heads import head_spec, head_specs
from speecheq_jax.heads.contract import OutputSizes
from speecheq_jax.model.conformer import ConformerEncoder
from speecheq_jax.model.head_layers import FrameHead, UtteranceHead
from speecheq_jax.model.model_config import validate_model_config
from speecheq_jax.model.pooling import AttentiveStatsPooling

SHARED_POOLING = "shared"


@struct.dataclass
class ModelOutput:
    """Everything the model returns, float32.

    out_mask [B,T'] valid encoder frames (T' = T/4); heads: head name -> its output, only the
    configured heads (a dict: across a jit boundary its keys come back sorted, so consumers
    iterate the registry) (category [B,C] logits, intensity [B] in [0,1], phoneme
    [B,T',V+1] logits with the CTC blank at 0, gender [B,2] logits).
    """

    out_mask: jax.Array
    heads: dict[str, jax.Array]


def _frame_head_attribute(name: str) -> str:
    return f"{name}_head"


class SpeechEQ(nnx.Module):
    """batch (the Batch dict; uses logmel [B,T,80] and frame_mask [B,T], T % 4 == 0) -> ModelOutput.

    The output sizes come from the data, never from the config: `num_phonemes`
    is the run's phoneme vocabulary V, `num_categories` the size C of the run's
    category label set (`DataSpec.categories`: the classes its corpora hold). `layout` is the
    data's feature route (`DataSpec.layout`; log-mel by default).
    """

    def __init__(self, config: ml_collections.ConfigDict, *, num_phonemes: int, num_categories: int,
                 rngs: nnx.Rngs, layout: FeatureLayout = LOGMEL):
        validate_model_config(config)
        dtype = jnp.dtype(config.dtype)
        d_model = config.d_model
        sizes = OutputSizes(num_categories=num_categories, num_phonemes=num_phonemes)
        specs = head_specs(config.heads)
        self.head_names = tuple(spec.name for spec in specs)
        self.shared_pooling = bool(config.shared_pooling)
        self.feature_key = layout.route.key
        self.encoder = ConformerEncoder(config, layout, dtype=dtype, rngs=rngs)
        utterance = [spec for spec in specs if spec.kind.per_utterance]
        self.utterance_heads = nnx.Dict(
            {spec.name: UtteranceHead(d_model, spec.output_size(sizes), dropout=config.dropout, dtype=dtype, rngs=rngs)
             for spec in utterance}
        )
        pooling_names = [SHARED_POOLING] if self.shared_pooling and utterance else [spec.name for spec in utterance]
        self.poolings = nnx.Dict(
            {name: AttentiveStatsPooling(d_model, config.pooling_attention_dim, dtype=dtype, rngs=rngs)
             for name in pooling_names}
        )
        for spec in specs:
            if not spec.kind.per_utterance:
                setattr(self, _frame_head_attribute(spec.name),
                        FrameHead(d_model, spec.output_size(sizes), dtype=dtype, rngs=rngs))

    def __call__(self, batch: Mapping[str, jax.Array]) -> ModelOutput:
        frames, out_mask = self.encoder(batch[self.feature_key], batch["frame_mask"])
        pooled = {name: pooling(frames, out_mask) for name, pooling in self.poolings.items()}
        outputs = {}
        for name in self.head_names:
            if name in self.utterance_heads:
                raw = self.utterance_heads[name](pooled[SHARED_POOLING if self.shared_pooling else name])
            else:
                raw = getattr(self, _frame_head_attribute(name))(frames)
            outputs[name] = head_spec(name).activation(raw)
        return ModelOutput(out_mask=out_mask, heads=outputs)


def prediction_outputs(output: ModelOutput) -> dict[str, jax.Array]:
    """ModelOutput -> what evaluation and prediction read: each head's eval output (by its spec's
    `eval_output` name: category_prob, intensity, phoneme_ids, gender_prob) and out_mask."""
    outputs = {"out_mask": output.out_mask}
    for spec in head_specs(output.heads):
        outputs[spec.eval_output] = spec.eval_transform(output.heads[spec.name])
    return outputs
