"""CREMA-D (6 emotions), intensity LO/MD/HI (XX masked), gender-balanced folds.

  python -m speecheq_jax.main --config configs/cremad.py:fold=fold1,root=/data/CREMA-D --workdir runs/cremad

All four heads (category, intensity, phoneme, gender): the file names carry
emotion and level, the 12 sentences are known texts, genders come from
VideoDemographics.csv.
"""

from speecheq_jax.run_config import single_corpus_config

HEADS = {
    "category": "six emotions from the file name",
    "intensity": "levels LO/MD/HI -> 1/3, 2/3, 1 (XX unspecified: masked); neutral 0",
    "phoneme": "g2p of the 12 fixed sentences",
    "gender": "VideoDemographics.csv",
}
NOT_TRAINED: dict[str, str] = {}


def get_config(arg: str | None = None):
    return single_corpus_config("cremad", arg, default_fold="fold1", heads=HEADS, not_trained=NOT_TRAINED)
