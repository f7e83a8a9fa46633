"""The unified label space: one taxonomy, explicit per-corpus maps, one intensity scale.

SpeechEQ trains one model on corpora whose labels differ. Each corpus module
declares its native codes in a `CorpusLabels` (its part of the registry's
`CorpusSpec`); the rules that map them live here, and only here, onto:

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
from typing import Any

import numpy as np

CATEGORIES: tuple[str, ...] = ("neutral", "happy", "angry", "sad", "surprise", "fear", "disgust")
CATEGORY_INDEX: dict[str, int] = {name: i for i, name in enumerate(CATEGORIES)}
NEUTRAL = CATEGORY_INDEX["neutral"]
GENDERS: tuple[str, ...] = ("F", "M")
GENDER_INDEX: dict[str, int] = {g: i for i, g in enumerate(GENDERS)}
EQ_SCALES: tuple[int, ...] = (1, 2, 3)
MISSING = -1
"""Integer / float value of a label an example does not carry (masked)."""

@dataclasses.dataclass(frozen=True)
class LabelOptions:
    """Choices a run makes about the label space (kept in config, logged).

    Attributes:
      label_set: categories the run trains on (e.g. IEMOCAP-4 = neutral, happy,
        angry, sad); None keeps the whole taxonomy.
      outside: what happens to an example whose category is outside
        `label_set` or the taxonomy: "drop" it, or "mask" its category and keep
        it for the other tasks.
      corpus: a corpus's own options, (name, value) pairs sorted by name; each
        corpus declares its options, defaults and allowed values in its spec
        (`CorpusOption`, e.g. IEMOCAP's `iemocap_exc`), which fills in and checks
        them (`CorpusSpec.resolve_label_options`).
    """

    label_set: tuple[str, ...] | None = None
    outside: str = "drop"
    corpus: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.label_set is not None:
            unknown = [c for c in self.label_set if c not in CATEGORY_INDEX]
            if unknown:
                raise ValueError(f"label_set has unknown categories {unknown}; known: {CATEGORIES}")
        _check_choice("outside", self.outside, ("drop", "mask"))

    def corpus_option(self, name: str) -> Any:
        """The value of corpus option `name` (KeyError when the options were not resolved for that corpus)."""
        return dict(self.corpus)[name]

    def as_dict(self) -> dict[str, Any]:
        """Plain values, the corpus options beside the run-wide ones (the config's and the dataset's form)."""
        return {"label_set": None if self.label_set is None else list(self.label_set), "outside": self.outside,
                **dict(self.corpus)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, object] | None) -> LabelOptions:
        """Builds options from a config dict: label_set and outside, every other key a corpus option."""
        values = dict(values or {})
        label_set = values.pop("label_set", None)
        outside = values.pop("outside", "drop")
        return cls(label_set=None if label_set is None else tuple(label_set), outside=str(outside),
                   corpus=tuple(sorted(values.items())))


@dataclasses.dataclass(frozen=True)
class CorpusOption:
    """One option a corpus declares (in its `CorpusSpec.options`): its name, default and allowed values."""

    name: str
    default: Any
    choices: tuple[Any, ...]
    doc: str


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"label option {name}={value!r}; expected one of {tuple(choices)}")


@dataclasses.dataclass(frozen=True)
class CategoryDecision:
    """Outcome of mapping one native label: keep, mask or drop, with the reason."""

    category: str | None
    action: str  # "keep" | "mask" | "drop"
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class OptionDrop:
    """A native code that a label option can drop, e.g. IEMOCAP's excited under iemocap_exc='drop'.

    Attributes:
      code: the native category code.
      what: its name in the reason, e.g. 'excited'.
      option: the corpus option (`CorpusOption`) that drops the code when it is 'drop'.
    """

    code: str
    what: str
    option: str


@dataclasses.dataclass(frozen=True)
class CorpusLabels:
    """One corpus's native label codes and how they enter the unified space.

    Attributes:
      categories: native category code -> unified category, or None when the
        code lies outside the taxonomy (the label options decide drop / mask).
      outside_reasons: native code -> why it lies outside (default: generic).
      option_drops: codes a label option may drop.
      intensity_scale: native intensity code -> level i of n; empty when the
        corpus has no categorical intensity scale.
      unknown_intensity: codes meaning "level not given" (masked, never a class).
    """

    categories: Mapping[str, str | None]
    outside_reasons: Mapping[str, str] = dataclasses.field(default_factory=dict)
    option_drops: tuple[OptionDrop, ...] = ()
    intensity_scale: Mapping[str, int] = dataclasses.field(default_factory=dict)
    unknown_intensity: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = sorted({c for c in self.categories.values() if c is not None} - set(CATEGORIES))
        if unknown:
            raise ValueError(f"category map targets {unknown} are not in the taxonomy {CATEGORIES}")

    def native_codes(self) -> tuple[str, ...]:
        """The native category codes a reader may meet."""
        return tuple(self.categories)

    def map_category(self, native: str, options: LabelOptions = LabelOptions()) -> CategoryDecision:
        """Maps a native category code into the unified label space.

        Raises ValueError for a code the corpus does not define (a reader passes
        the file and line along); every other outcome is a decision to count.
        """
        if native not in self.categories:
            raise ValueError(f"unknown emotion code {native!r}; known: {sorted(self.categories)}")
        for drop in self.option_drops:
            if native == drop.code and dict(options.corpus).get(drop.option) == "drop":
                return CategoryDecision(None, "drop", f"{drop.what} dropped ({drop.option}=drop)")
        unified = self.categories[native]
        if unified is None:
            return CategoryDecision(None, options.outside,
                                    self.outside_reasons.get(native, f"{native} is not in the taxonomy"))
        if options.label_set is not None and unified not in options.label_set:
            return CategoryDecision(None, options.outside, f"{unified} is outside label_set")
        return CategoryDecision(unified, "keep")

    @property
    def intensity_levels(self) -> int | None:
        """Number of levels n of the native categorical intensity scale, if any."""
        return max(self.intensity_scale.values()) if self.intensity_scale else None

    def map_intensity(self, category: str | None, code: str | None) -> float | None:
        """Native intensity code -> [0, 1] (`level_intensity`); unknown or absent -> None.

        Raises ValueError for a code that is neither on the scale nor one of
        the declared unknown codes.
        """
        if category == "neutral":
            return 0.0
        if code is None or code in self.unknown_intensity or not self.intensity_scale:
            return None
        if code not in self.intensity_scale:
            raise ValueError(f"unknown intensity code {code!r}; known: {sorted(self.intensity_scale)}")
        return level_intensity(category, self.intensity_scale[code], self.intensity_levels)

    @property
    def supported_scales(self) -> tuple[int, ...]:
        """Scales k at which the annotation supports EQ@k (k <= native levels)."""
        return tuple(k for k in EQ_SCALES if k <= (self.intensity_levels or 1))

    def describe(self, options: LabelOptions = LabelOptions()) -> dict[str, str]:
        """The category mapping a run applies, for logs and summaries.

        Returns native code -> unified category, or 'DROP (reason)' / 'MASK (reason)'.
        """
        out = {}
        for code in self.native_codes():
            decision = self.map_category(code, options)
            out[code] = decision.category if decision.action == "keep" else f"{decision.action.upper()} ({decision.reason})"
        return out


def level_intensity(category: str | None, level: int, levels: int) -> float:
    """Level i of a native n-level scale -> i / n on [0, 1]; neutral is 0 whatever its level."""
    return 0.0 if category == "neutral" else level / levels


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


def to_native_level(intensity: np.ndarray | float, levels: int) -> np.ndarray:
    """Nearest level (0..levels) on a native scale, for native-scale accuracy."""
    x = np.clip(np.asarray(intensity, dtype=np.float64), 0.0, 1.0)
    return np.rint(x * levels).astype(np.int64)
