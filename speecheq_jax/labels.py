"""The unified label space: one taxonomy, explicit per-corpus maps, one intensity scale.

SpeechEQ trains one model on corpora whose labels differ. Every corpus is
mapped here, and only here, onto:

* a category from `CATEGORIES` (or none: the example is dropped, or kept with
  its category masked, as `LabelOptions` says; either way it is counted);
* an intensity on [0, 1]: level i of a corpus's native n-level scale maps to
  i / n, neutral is 0, an unknown level is `None` (masked, never a class);
* a joint (category, intensity bin) label at scale k, on which EQ@k, the
  multi-scale unified metric, is the unweighted accuracy (mean per-class
  recall). EQ@1 is category UA; the headline EQ is the mean of EQ@k over
  k in {1, 2, 3} that the corpus's annotation supports.

Bins at scale k are the k equal right-closed intervals of (0, 1]:
bin(x) = ceil(k * x) - 1, so on a 3-level scale the levels 1/3, 2/3, 1 fall in
bins 0, 1, 2 at k = 3 and 0, 1, 1 at k = 2. Neutral has a single joint class
(its bin is always 0), whatever intensity was predicted for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

CATEGORIES: tuple[str, ...] = ("neutral", "happy", "angry", "sad", "surprise", "fear", "disgust")
CATEGORY_INDEX: dict[str, int] = {name: i for i, name in enumerate(CATEGORIES)}
NEUTRAL = CATEGORY_INDEX["neutral"]
GENDERS: tuple[str, ...] = ("F", "M")
GENDER_INDEX: dict[str, int] = {g: i for i, g in enumerate(GENDERS)}
EQ_SCALES: tuple[int, ...] = (1, 2, 3)
MISSING = -1
"""Integer / float value of a label an example does not carry (masked)."""

CORPORA: tuple[str, ...] = ("iemocap", "casia", "esd", "ravdess", "cremad", "seqd_synth", "manifest")

# Native category code -> unified category, or None when the code lies outside
# the taxonomy (reason in _OUTSIDE_REASON). Options below may override a code.
_CATEGORY_MAPS: dict[str, dict[str, str | None]] = {
    "iemocap": {
        "neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad",
        "sur": "surprise", "fea": "fear", "dis": "disgust",
        "fru": None, "oth": None, "xxx": None,
    },
    "casia": {
        "neutral": "neutral", "happy": "happy", "angry": "angry", "sad": "sad",
        "surprise": "surprise", "fear": "fear",
    },
    "esd": {
        "Neutral": "neutral", "Happy": "happy", "Angry": "angry", "Sad": "sad", "Surprise": "surprise",
    },
    "ravdess": {
        "01": "neutral", "02": "neutral", "03": "happy", "04": "sad", "05": "angry",
        "06": "fear", "07": "disgust", "08": "surprise",
    },
    "cremad": {
        "NEU": "neutral", "HAP": "happy", "ANG": "angry", "SAD": "sad", "FEA": "fear", "DIS": "disgust",
    },
    "seqd_synth": {name: name for name in CATEGORIES},
    "manifest": {name: name for name in CATEGORIES},
}
_OUTSIDE_REASON: dict[tuple[str, str], str] = {
    ("iemocap", "fru"): "frustrated is not in the taxonomy",
    ("iemocap", "oth"): "'other' is not an emotion category",
    ("iemocap", "xxx"): "annotators did not agree (xxx)",
}

# Native intensity scales: code -> level i of n. Corpora not listed have none.
_INTENSITY_SCALES: dict[str, dict[str, int]] = {
    "ravdess": {"01": 1, "02": 2},
    "cremad": {"LO": 1, "MD": 2, "HI": 3},
    "seqd_synth": {"1": 1, "2": 2, "3": 3},
}
_UNKNOWN_INTENSITY_CODES: dict[str, frozenset[str]] = {"cremad": frozenset({"XX"})}


@dataclasses.dataclass(frozen=True)
class LabelOptions:
    """Choices a run makes about the label space (kept in config, logged).

    Attributes:
      label_set: categories the run trains on (e.g. IEMOCAP-4 = neutral, happy,
        angry, sad); None keeps the whole taxonomy.
      outside: what happens to an example whose category is outside
        `label_set` or the taxonomy: "drop" it, or "mask" its category and keep
        it for the other tasks.
      iemocap_exc: "merge" excited into happy (the standard 4-class setup) or
        "drop" it.
      ravdess_calm: "neutral" maps calm onto neutral; "drop" removes it.
      iemocap_arousal: use IEMOCAP's arousal (1..5 -> (a-1)/4) as an intensity
        target. It is dimensional, not a categorical level, so it never enters
        EQ@k (IEMOCAP stays scored at k = 1 only).
    """

    label_set: tuple[str, ...] | None = None
    outside: str = "drop"
    iemocap_exc: str = "merge"
    ravdess_calm: str = "neutral"
    iemocap_arousal: bool = False

    def __post_init__(self) -> None:
        if self.label_set is not None:
            unknown = [c for c in self.label_set if c not in CATEGORY_INDEX]
            if unknown:
                raise ValueError(f"label_set has unknown categories {unknown}; known: {CATEGORIES}")
        _check_choice("outside", self.outside, ("drop", "mask"))
        _check_choice("iemocap_exc", self.iemocap_exc, ("merge", "drop"))
        _check_choice("ravdess_calm", self.ravdess_calm, ("neutral", "drop"))

    @classmethod
    def from_mapping(cls, values: Mapping[str, object] | None) -> LabelOptions:
        """Builds options from a config dict, rejecting unknown keys by name."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(values) - known)
        if extra:
            raise ValueError(f"unknown label option(s) {extra}; known: {sorted(known)}")
        if values.get("label_set") is not None:
            values["label_set"] = tuple(values["label_set"])
        return cls(**values)


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"label option {name}={value!r}; expected one of {tuple(choices)}")


@dataclasses.dataclass(frozen=True)
class CategoryDecision:
    """Outcome of mapping one native label: keep, mask or drop, with the reason."""

    category: str | None
    action: str  # "keep" | "mask" | "drop"
    reason: str = ""


def native_codes(corpus: str) -> tuple[str, ...]:
    """The native category codes a corpus reader may meet."""
    return tuple(_corpus_map(corpus))


def _corpus_map(corpus: str) -> dict[str, str | None]:
    if corpus not in _CATEGORY_MAPS:
        raise ValueError(f"unknown corpus {corpus!r}; known: {CORPORA}")
    return _CATEGORY_MAPS[corpus]


def map_category(corpus: str, native: str, options: LabelOptions = LabelOptions()) -> CategoryDecision:
    """Maps a corpus's native category code into the unified label space.

    Raises ValueError for a code the corpus does not define (a reader passes
    the file and line along); every other outcome is a decision to count.
    """
    table = _corpus_map(corpus)
    if native not in table:
        raise ValueError(f"unknown {corpus} emotion code {native!r}; known: {sorted(table)}")
    unified = table[native]
    if corpus == "iemocap" and native == "exc" and options.iemocap_exc == "drop":
        return CategoryDecision(None, "drop", "excited dropped (iemocap_exc=drop)")
    if corpus == "ravdess" and native == "02" and options.ravdess_calm == "drop":
        return CategoryDecision(None, "drop", "calm dropped (ravdess_calm=drop)")
    if unified is None:
        reason = _OUTSIDE_REASON.get((corpus, native), f"{native} is not in the taxonomy")
        return CategoryDecision(None, options.outside, reason)
    if options.label_set is not None and unified not in options.label_set:
        return CategoryDecision(None, options.outside, f"{unified} is outside label_set")
    return CategoryDecision(unified, "keep")


def run_label_set(category_counts: Sequence[Mapping[str, int]]) -> tuple[str, ...]:
    """The categories a run trains on: the union of its corpora's mapped categories, in taxonomy order.

    Args:
      category_counts: per corpus, unified category name -> number of kept
        examples, AFTER the run's label options (label_set, outside,
        iemocap_exc, ...); other keys (the masked count) are ignored.
    Returns:
      e.g. ("neutral", "happy", "angry", "sad") for IEMOCAP-4. The category
      head has exactly these outputs and a run's category id i names
      result[i]: nothing outside the run's data can be predicted.
    """
    return tuple(c for c in CATEGORIES if any(counts.get(c, 0) > 0 for counts in category_counts))


def intensity_levels(corpus: str) -> int | None:
    """Number of levels n of a corpus's native categorical intensity scale, if any."""
    scale = _INTENSITY_SCALES.get(corpus)
    return max(scale.values()) if scale else None


def map_intensity(corpus: str, category: str | None, code: str | None) -> float | None:
    """Native intensity code -> [0, 1]; neutral is 0; unknown or absent -> None.

    Raises ValueError for a code that is neither on the corpus's scale nor one
    of its declared "unknown" codes.
    """
    if category == "neutral":
        return 0.0
    if code is None or code in _UNKNOWN_INTENSITY_CODES.get(corpus, ()):
        return None
    scale = _INTENSITY_SCALES.get(corpus)
    if scale is None:
        return None
    if code not in scale:
        raise ValueError(f"unknown {corpus} intensity code {code!r}; known: {sorted(scale)}")
    return scale[code] / max(scale.values())


def arousal_to_intensity(arousal: float) -> float:
    """IEMOCAP arousal on 1..5 -> [0, 1] as (a - 1) / 4 (dimensional target)."""
    return float(min(max((arousal - 1.0) / 4.0, 0.0), 1.0))


def supported_scales(corpus: str) -> tuple[int, ...]:
    """Scales k at which a corpus's annotation supports EQ@k (k <= native levels)."""
    levels = intensity_levels(corpus) or 1
    return tuple(k for k in EQ_SCALES if k <= levels)


def intensity_bin(intensity: np.ndarray | float, k: int) -> np.ndarray:
    """Bin index in [0, k) of intensities on [0, 1]: ceil(k x) - 1, clipped."""
    x = np.asarray(intensity, dtype=np.float64)
    return np.clip(np.ceil(k * x - 1e-6) - 1, 0, k - 1).astype(np.int64)


def joint_label(category: np.ndarray, intensity: np.ndarray, k: int, neutral: int | None = NEUTRAL) -> np.ndarray:
    """Joint (category, intensity bin) id at scale k: category * k + bin.

    Neutral always takes bin 0, so it is one joint class at every scale.
    Args:
      category: int [N] category ids (taxonomy ids, or a run's label-set ids).
      intensity: float [N] intensities on [0, 1].
      neutral: the id of neutral among those ids; None when it is not one of them.
    Returns:
      int [N] ids in [0, num_categories * k).
    """
    category = np.asarray(category, dtype=np.int64)
    is_neutral = np.zeros(category.shape, bool) if neutral is None else category == neutral
    bins = np.where(is_neutral, 0, intensity_bin(intensity, k))
    return category * k + bins


def describe_mapping(corpus: str, options: LabelOptions = LabelOptions()) -> dict[str, str]:
    """The category mapping a run applies to one corpus, for logs and summaries.

    Returns native code -> unified category, or 'DROP (reason)' / 'MASK (reason)'.
    """
    out = {}
    for code in native_codes(corpus):
        decision = map_category(corpus, code, options)
        out[code] = decision.category if decision.action == "keep" else f"{decision.action.upper()} ({decision.reason})"
    return out


def to_native_level(intensity: np.ndarray | float, levels: int) -> np.ndarray:
    """Nearest level (0..levels) on a native scale, for native-scale accuracy."""
    x = np.clip(np.asarray(intensity, dtype=np.float64), 0.0, 1.0)
    return np.rint(x * levels).astype(np.int64)
