"""Defaults of `config.data`: plain values only, so loading a config file imports neither JAX nor TFDS,
nor any corpus reader or the generator.

`synth` holds only what a config overrides of a generated corpus's parameters; the defaults are
the corpus's own (`CorpusSpec.generate_defaults`, e.g. `corpora.seqd_synth.SYNTH_DEFAULTS`),
filled in and checked by preparation.
"""

from __future__ import annotations

import dataclasses

import ml_collections

from speecheq_jax.input.augment import SpecAugmentConfig


def default_data_config() -> ml_collections.ConfigDict:
    """Defaults of `config.data`; experiment configs start from this and override."""
    return ml_collections.ConfigDict({
        "data_dir": "~/speecheq_data",
        "corpora": [{"name": "seqd_synth", "root": None, "fold": None, "protocol": None, "weight": 1.0}],
        "label_options": {},
        "synth": {},
        "batch_size": 16,
        "buckets": (192, 256, 320, 384, 512, 768),
        "shuffle_window": 1024,
        "specaugment": dataclasses.asdict(SpecAugmentConfig()),
        "seed": 0,
        "worker_count": 0,
        "prefetch": 2,
        # ESD's 'official' split shares speakers across train/valid/test: refused unless set.
        "allow_speaker_dependent": False,
        # The model's input: "logmel" (features/logmel.py) or "ssl", the hidden states of the encoder
        # checkpoint `ssl.checkpoint` (a Hugging Face directory), `ssl.layers` of them (None: all L + 1),
        # stored as `ssl.dtype` (float16 | float32); `ssl.random_seed` set: a checkpoint directory without
        # config.json gets a tiny random-weight encoder written first (demos); `ssl.finetune` "frozen" trains on
        # the stored states, "top:N" | "all" | "all+cnn" fine-tunes the encoder on stored waveforms (ssl/finetune.py;
        # here, not under config.optim, because it changes what is stored and batched). ssl/route.py checks them.
        "features": "logmel",
        "ssl": {"checkpoint": None, "layers": None, "dtype": "float16", "random_seed": None, "finetune": "frozen"},
        # Preparation excludes (and names) files it cannot use; strict makes any of them an error.
        "strict": False,
    })
