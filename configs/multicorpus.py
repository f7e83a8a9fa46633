"""The unified setting: one model over several corpora mixed by weight.

Built from the corpus registry: every corpus that generates itself
(SEQD-synth) is in, and every other registered corpus whose root the command
line gives, e.g.
  python -m speecheq_jax.main --config configs/multicorpus.py:iemocap=/data/IEMOCAP,cremad=/data/CREMA-D \
      --workdir runs/multi
Every corpus keeps its own evaluation protocol (fold 1 of each by default);
labels a corpus lacks are masked, never guessed.

All four heads: each is trained on the corpora that carry its labels (see
each corpus's config for which and why): category on all; intensity on
SEQD-synth, RAVDESS, CREMA-D and IEMOCAP (arousal); phonemes on all but
CASIA (no transcripts); gender on all (ESD's two unknown speakers masked).
"""

from speecheq_jax.corpora import registry
from speecheq_jax.model.model_config import HEAD_NAMES
from speecheq_jax.run_config import base_config, parse_arg

_GIVEN = tuple(name for name in registry.MODULES if name not in registry.GENERATED)
_GENERATED = registry.GENERATED


def get_config(arg: str | None = None):
    arg = parse_arg(arg, size="S", **{name: "" for name in _GIVEN})
    config = base_config(arg.size)
    config.name = f"multicorpus-{arg.size}"
    roots = {name: None for name in _GENERATED} | {name: arg[name] for name in _GIVEN if arg[name]}
    # IEMOCAP's intensity target is its arousal (dimensional; it never enters EQ@k).
    own_options = {"iemocap": {"iemocap_arousal": True}}
    config.data.corpora = [{"name": name, "root": root, "fold": None, "protocol": None, "weight": 1.0,
                            "label_options": own_options.get(name, {})} for name, root in roots.items()]
    config.model.heads = HEAD_NAMES
    config.data.synth = {"num": 20_000, "seed": 0, "langs": ("cmn", "eng")}
    config.data.batch_size = 64
    config.train.num_steps = 40_000
    config.train.eval_every = 2000
    # Selection on the mean validation EQ over corpora (each corpus weighs the same).
    config.train.best_metric = "valid/overall/eq"
    return config
