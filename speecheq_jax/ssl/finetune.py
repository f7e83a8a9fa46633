"""Fine-tuning an SSL encoder: which part trains, for the optimizer and for the forward pass.

The switch (`parse_finetune`), over an encoder of L transformer layers:

* "frozen": nothing trains (the encoder is a fixed feature extractor);
* "top:N" (1 <= N <= L): the top N layers and what sits above them, the final LayerNorm of pre-LN
  ("stable layer norm") models; post-LN models have nothing above their layers;
* "all": everything except the conv feature encoder: the feature projection, the positional conv
  embedding, the post-LN models' LayerNorm after it, WavLM's relative position bias table, every
  layer and the final LayerNorm. The CNN stays frozen as in standard wav2vec 2.0 / HuBERT / WavLM
  fine-tuning (transformers' `freeze_feature_encoder`);
* "all+cnn": everything, the conv feature encoder included.

A `FineTuning` gives both halves of a partial fine-tune:

* `trained_rows`: the optimizer's rule (train/optimizer.py `make_optimizer(config, trained_rows)`),
  so frozen parameters get zero updates and no optimizer state. The layers are one stack with a
  leading layer axis [L, ...] (ssl/transformer.py), so "top:N" trains the rows L-N: of those leaves;
* `frozen_stages`: for `SSLEncoder(waveform, mask, frozen_stages=...)` (`forward`), which runs the
  frozen bottom under jax.lax.stop_gradient (the frozen layers as their own scan), so the backward
  pass stops at the first trained stage and frozen parameters get zero gradients.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

import jax

from speecheq_jax.errors import ConfigError
from speecheq_jax.ssl.config import EncoderConfig
from speecheq_jax.ssl.encoder import EncoderOutput, SSLEncoder

SWITCHES = ("frozen", "top:N", "all", "all+cnn")
CNN = "feature_extractor"
EMBEDDING = ("feature_projection", "encoder.pos_conv_embed", "encoder.position_bias")
"""Parameter path prefixes below the layers (the conv stack apart); post-LN models add encoder.layer_norm."""
LAYERS = "encoder.layers"
FROZEN = -1
"""A `trained_rows` leaf value: the parameter is not trained (train/optimizer.py `train_only` reads it)."""


@dataclasses.dataclass(frozen=True)
class FineTuning:
    """Which part of an encoder of `num_layers` layers trains: the stages from `frozen_stages` up.

    Stages bottom up (SSLEncoder's frozen_stages): 0 the conv feature encoder, 1 the embedding (feature
    projection, positional conv, post-LN LayerNorm, WavLM's bias table), 2..L+1 the layers, L+2 the
    pre-LN final LayerNorm. frozen_stages = L + 3 freezes everything.
    """

    frozen_stages: int
    num_layers: int
    stable: bool

    def stage(self, path: str) -> int:
        """The stage of the parameter at `path` (dotted, relative to the encoder; layers: the first)."""
        if path.startswith(CNN + "."):
            return 0
        if path.startswith(LAYERS + "."):
            return 2
        if path.startswith("encoder.layer_norm."):
            return self.num_layers + 2 if self.stable else 1
        if path.startswith(EMBEDDING):
            return 1
        raise ValueError(f"{path}: not a parameter of an SSL encoder")

    def first_trained_row(self, path: str) -> int:
        """FROZEN, or the first trained row of the parameter at `path` (0 unless a layer stack partly trains)."""
        if path.startswith(LAYERS + "."):
            first = self.frozen_stages - 2
            return 0 if first <= 0 else (first if first < self.num_layers else FROZEN)
        return 0 if self.stage(path) >= self.frozen_stages else FROZEN

    def trained_rows(self, prefix: Sequence[str] = ()) -> Any:
        """The optimizer's rule (train/optimizer.py `train_only`): params -> int leaves. The encoder's
        parameters are those under `prefix` (attribute names from the trained module down to the encoder,
        () when the encoder is the whole module); every other parameter trains (row 0)."""

        def rule(params: Any) -> Any:
            def row(path: tuple, _: Any) -> int:
                names = [str(key.key) for key in path if isinstance(key, jax.tree_util.DictKey)]
                if names[:len(prefix)] != list(prefix):
                    return 0
                return self.first_trained_row(".".join(names[len(prefix):]))

            return jax.tree_util.tree_map_with_path(row, params)

        return rule

    def forward(self, encoder: SSLEncoder, waveform: jax.Array, attention_mask: jax.Array | None = None
                ) -> EncoderOutput:
        """The encoder's output on waveform [B, N] (mask [B, N] or None), the frozen part under stop_gradient."""
        return encoder(waveform, attention_mask, frozen_stages=self.frozen_stages)


def parse_finetune(switch: str, config: EncoderConfig) -> FineTuning:
    """'frozen' | 'top:N' | 'all' | 'all+cnn' -> FineTuning; anything else a one-line ConfigError."""
    layers = config.num_hidden_layers
    top = re.fullmatch(r"top:(\d+)", switch)
    if switch == "frozen":
        frozen = layers + 3
    elif switch == "all":
        frozen = 1
    elif switch == "all+cnn":
        frozen = 0
    elif top and 1 <= int(top[1]) <= layers:
        frozen = 2 + layers - int(top[1])
    elif top:
        raise ConfigError(f"fine-tuning 'top:{top[1]}': N must be 1 to {layers} (the encoder's layers)")
    else:
        raise ConfigError(f"fine-tuning {switch!r}: expected one of {', '.join(SWITCHES)}")
    return FineTuning(frozen, layers, config.do_stable_layer_norm)
