"""RAVDESS speech (8 emotions; calm -> neutral), intensity normal/strong, gender-balanced folds.

  python -m speecheq_jax.main --config configs/ravdess.py:fold=fold1,root=/data/RAVDESS --workdir runs/ravdess

All four heads (category, intensity, phoneme, gender): the file name carries
emotion, intensity and actor (odd actors male), and the two statements are
known texts.
"""

from speecheq_jax.run_config import single_corpus_config

HEADS = {
    "category": "eight emotions from the file name, calm mapped to neutral",
    "intensity": "normal/strong -> 1/2, 1; neutral 0",
    "phoneme": "g2p of the two fixed statements",
    "gender": "odd actor numbers are male, even female",
}
NOT_TRAINED: dict[str, str] = {}


def get_config(arg: str | None = None):
    return single_corpus_config(
        "ravdess", arg, default_fold="fold1", heads=HEADS, not_trained=NOT_TRAINED,
        label_options={"ravdess_calm": "neutral"}, steps=8000)
