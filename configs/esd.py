"""ESD (Mandarin + English, 5 emotions), speaker-independent folds.

  python -m speecheq_jax.main --config configs/esd.py:fold=fold1,root=/data/ESD --workdir runs/esd

Heads: category, phoneme and gender. No intensity head: ESD has no intensity
annotation (only its neutral examples would carry one, 0).
"""

from speecheq_jax.run_config import single_corpus_config

HEADS = {
    "category": "five emotion folders",
    "phoneme": "g2p of the per-speaker transcript files",
    "gender": "public speaker descriptions (0012 and 0019 unknown: masked unless a speaker CSV is given)",
}
NOT_TRAINED = {
    "intensity": "no intensity annotation: only neutral examples would carry one (0)",
}


def get_config(arg: str | None = None):
    return single_corpus_config("esd", arg, default_fold="fold1", heads=HEADS, not_trained=NOT_TRAINED)
