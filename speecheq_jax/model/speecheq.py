"""The SpeechEQ model: one conformer encoder shared by the configured subset of four heads.

    batch["logmel"] [B,T,80], batch["frame_mask"] [B,T]
      -> ConformerEncoder -> frames [B,T/4,D], out_mask [B,T/4]
      -> phoneme head (per frame), and per utterance head: attentive stats pooling -> MLP

Which heads exist is configuration (`model.heads`), so single-task training and every ablation run
the same code; an absent head's output is None. With `model.shared_pooling` the utterance heads
share one attentive pooling (one set of frame weights), otherwise each has its own. Parameters are
float32; computation runs in `model.dtype`; every output leaves the model as float32.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx, struct

from speecheq_jax import labels
from speecheq_jax.frames import NUM_MELS
from speecheq_jax.model.config import UTTERANCE_HEADS, validate_model_config
from speecheq_jax.model.conformer import ConformerEncoder
from speecheq_jax.model.heads import PhonemeHead, UtteranceHead
from speecheq_jax.model.pooling import AttentiveStatsPooling, masked_mean

SHARED_POOLING = "shared"


@struct.dataclass
class ModelOutput:
    """Everything the model returns; all float32, heads that are not configured are None.

    category_logits [B,C], intensity [B] in [0,1], gender_logits [B,2], phoneme_logits [B,T',V+1]
    (index 0 = CTC blank), out_mask [B,T'] (valid encoder frames, T' = T/4), embedding [B,D] (mean
    of the encoder frames over valid frames: head-independent, so ablations are comparable).
    """

    out_mask: jax.Array
    embedding: jax.Array
    category_logits: jax.Array | None = None
    intensity: jax.Array | None = None
    gender_logits: jax.Array | None = None
    phoneme_logits: jax.Array | None = None


class SpeechEQ(nnx.Module):
    """batch (the Batch dict; uses logmel [B,T,80] and frame_mask [B,T], T % 4 == 0) -> ModelOutput.

    The output sizes come from the data, never from the config: `num_phonemes`
    is the run's phoneme vocabulary V, `num_categories` the size C of the run's
    category label set (`DataSpec.categories`: the classes its corpora hold).
    """

    def __init__(self, config: ml_collections.ConfigDict, *, num_phonemes: int, num_categories: int,
                 rngs: nnx.Rngs):
        validate_model_config(config)
        if "category" in config.heads and num_categories < 1:
            raise ValueError("model.heads has 'category' but the run's corpora hold no category label")
        dtype = jnp.dtype(config.dtype)
        d_model = config.d_model
        self.encoder = ConformerEncoder(config, NUM_MELS, dtype=dtype, rngs=rngs)
        utterance_heads = [h for h in UTTERANCE_HEADS if h in config.heads]
        num_outputs = {"category": num_categories, "intensity": 1, "gender": len(labels.GENDERS)}
        self.utterance_heads = nnx.Dict(
            {h: UtteranceHead(d_model, num_outputs[h], dropout=config.dropout, dtype=dtype, rngs=rngs)
             for h in utterance_heads}
        )
        pooling_names = [SHARED_POOLING] if config.shared_pooling and utterance_heads else utterance_heads
        self.poolings = nnx.Dict(
            {name: AttentiveStatsPooling(d_model, config.pooling_attention_dim, dtype=dtype, rngs=rngs)
             for name in pooling_names}
        )
        self.phoneme_head = (
            PhonemeHead(d_model, num_phonemes, dtype=dtype, rngs=rngs) if "phoneme" in config.heads else None
        )
        self.shared_pooling = bool(config.shared_pooling)

    def __call__(self, batch: Mapping[str, jax.Array]) -> ModelOutput:
        frames, out_mask = self.encoder(batch["logmel"], batch["frame_mask"])
        pooled = {name: pooling(frames, out_mask) for name, pooling in self.poolings.items()}
        utterance = {
            head: module(pooled[SHARED_POOLING if self.shared_pooling else head])
            for head, module in self.utterance_heads.items()
        }
        return ModelOutput(
            out_mask=out_mask,
            embedding=masked_mean(frames, out_mask),
            category_logits=utterance.get("category"),
            intensity=jax.nn.sigmoid(utterance["intensity"][:, 0]) if "intensity" in utterance else None,
            gender_logits=utterance.get("gender"),
            phoneme_logits=self.phoneme_head(frames) if self.phoneme_head is not None else None,
        )


def prediction_outputs(output: ModelOutput) -> dict[str, jax.Array]:
    """ModelOutput -> what prediction reports: probabilities, intensity, CTC frame argmax, out_mask."""
    outputs = {"out_mask": output.out_mask}
    if output.category_logits is not None:
        outputs["category_prob"] = jax.nn.softmax(output.category_logits, axis=-1)
    if output.intensity is not None:
        outputs["intensity"] = output.intensity
    if output.gender_logits is not None:
        outputs["gender_prob"] = jax.nn.softmax(output.gender_logits, axis=-1)
    if output.phoneme_logits is not None:
        outputs["phoneme_ids"] = jnp.argmax(output.phoneme_logits, axis=-1).astype(jnp.int32)
    return outputs
