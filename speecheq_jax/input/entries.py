"""The flat index of a split's examples, built from dataset metadata alone (no record read). Numpy only.

Every configured corpus contributes its fold's units of one split, in fold
order, each unit's records in record order; position i of the index is one
example. Batch plans (`input/buckets.py`) and the host tables of evaluation
are expressed in these positions.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence

import numpy as np

from speecheq_jax.frames import LOGMEL_ROUTE, Route

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Entries:
    """Parallel int64 arrays [N] over a split's examples, and the unit names `unit` indexes.

    Attributes:
      corpus: the example's corpus id (index into the run's corpora).
      unit: index into `unit_names`.
      record: record index inside its unit (TFDS split).
      frames: log-mel frames.
      phonemes: phoneme tokens (0 = no transcript).
      unit_names: the units, in the order the arrays refer to them.
    """

    corpus: np.ndarray
    unit: np.ndarray
    record: np.ndarray
    frames: np.ndarray
    phonemes: np.ndarray
    unit_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.corpus)

    def take(self, keep: np.ndarray) -> Entries:
        """The entries selected by a bool mask or positions `keep`."""
        return dataclasses.replace(self, corpus=self.corpus[keep], unit=self.unit[keep], record=self.record[keep],
                                   frames=self.frames[keep], phonemes=self.phonemes[keep])

    def locate(self, position: int) -> tuple[int, str, int]:
        """(corpus id, unit name, record index) of the example at `position`."""
        return int(self.corpus[position]), self.unit_names[self.unit[position]], int(self.record[position])


def split_entries(units_by_corpus: Sequence[Mapping[str, Mapping[str, Sequence[int]]]]) -> Entries:
    """The flat index of one split.

    Args:
      units_by_corpus: per corpus id, the split's units in fold order, each
        unit -> metadata holding `num_frames` [n] and `num_phonemes` [n] in record order.
    """
    columns: dict[str, list[np.ndarray]] = {"corpus": [], "unit": [], "record": [], "frames": [], "phonemes": []}
    unit_names: list[str] = []
    for corpus_id, units in enumerate(units_by_corpus):
        for unit, meta in units.items():
            size = len(meta["num_frames"])
            columns["corpus"].append(np.full(size, corpus_id))
            columns["unit"].append(np.full(size, len(unit_names)))
            columns["record"].append(np.arange(size))
            columns["frames"].append(np.asarray(meta["num_frames"]))
            columns["phonemes"].append(np.asarray(meta["num_phonemes"]))
            unit_names.append(unit)
    arrays = {k: np.concatenate(v).astype(np.int64) if v else np.zeros(0, np.int64) for k, v in columns.items()}
    return Entries(**arrays, unit_names=tuple(unit_names))


def report_too_many_phonemes(entries: Entries, corpus_names: Sequence[str], split: str,
                             route: Route = LOGMEL_ROUTE) -> None:
    """Logs, per corpus, the phoneme labels longer than their encoder frames (known from metadata alone).

    They are masked when read, together with the rarer ones that only their
    adjacent repeats make unalignable (logged one by one).
    """
    too_long = entries.phonemes > route.encoder_frames(entries.frames)
    for corpus_id, name in enumerate(corpus_names):
        count = int(np.sum(too_long & (entries.corpus == corpus_id)))
        if count:
            log.warning("%s %s: %d of %d examples have more phonemes than encoder frames (%s route): "
                        "CTC cannot align them, their phoneme labels are masked", name, split, count,
                        int(np.sum(entries.corpus == corpus_id)), route.name)


def drop_longer_than(entries: Entries, largest: int, corpus_names: Sequence[str]) -> Entries:
    """The entries of at most `largest` frames; the dropped ones are counted per corpus and printed."""
    keep = entries.frames <= largest
    for corpus_id, name in enumerate(corpus_names):
        dropped = int(np.sum(~keep & (entries.corpus == corpus_id)))
        if dropped:
            print(f"[pipeline] {name}: dropped {dropped} training examples longer than the largest bucket "
                  f"({largest} frames)")
    return entries.take(keep)
