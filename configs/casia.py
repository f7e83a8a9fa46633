"""CASIA (public 1,200-utterance subset), leave-one-speaker-out: speaker-INDEPENDENT.

  python -m speecheq_jax.main --config configs/casia.py:fold=liuchanhg,root=/data/CASIA --workdir runs/casia

Heads: category and gender. No intensity head: CASIA has no intensity
annotation (only its neutral examples would carry one, 0). No phoneme head:
the public subset has no transcripts, so the reader yields no phonemes.
"""

from speecheq_jax.run_config import single_corpus_config

HEADS = {
    "category": "six emotion folders (neutral, happy, angry, sad, surprise, fear)",
    "gender": "the four speakers' genders from the corpus documentation",
}
NOT_TRAINED = {
    "intensity": "no intensity annotation: only neutral examples would carry one (0)",
    "phoneme": "no transcripts in the public subset, so the reader yields no phonemes",
}


def get_config(arg: str | None = None):
    return single_corpus_config("casia", arg, default_fold="liuchanhg", heads=HEADS, not_trained=NOT_TRAINED,
                                steps=5000)
