"""The run-time leak check on stored folds (through corpora.protocols.check_speaker_disjoint)."""

from __future__ import annotations

from pathlib import Path

import pytest

from speecheq_jax.corpora.protocols import SpeakerLeakError
from speecheq_jax.input.sources import check_fold
from speecheq_jax.prep.prepare import PreparedDataset

pytestmark = pytest.mark.unit


def _dataset(corpus: str, units: dict[str, list[str]]) -> PreparedDataset:
    return PreparedDataset(corpus=corpus, config="c", path=Path("/nowhere"), folds={}, vocab=(),
                           split_sizes={u: len(s) for u, s in units.items()},
                           units={u: {"speaker": speakers} for u, speakers in units.items()}, labels={})


def _fold(train, valid, test, speaker_dependent=False) -> dict:
    return {"name": "f", "units": {"train": train, "valid": valid, "test": test}, "speaker_dependent": speaker_dependent}


def test_disjoint_fold_passes_and_a_shared_speaker_is_named():
    dataset = _dataset("casia", {"a": ["a", "a"], "b": ["b"], "c": ["c"], "d": ["d"]})
    check_fold(dataset, _fold(["a", "b"], ["c"], ["d"]))
    with pytest.raises(SpeakerLeakError, match=r"casia: fold 'f': speakers \['a'\] are in both train and test"):
        check_fold(dataset, _fold(["a", "b"], ["c"], ["a"]))
    with pytest.raises(ValueError, match=r"casia: stored unit 'b' holds speaker 'x' of unit 'x'"):
        check_fold(_dataset("casia", {"a": ["a"], "b": ["b", "x"], "c": ["c"]}), _fold(["a"], ["b"], ["c"]))


def test_a_speaker_shared_through_group_units_is_named():
    dataset = _dataset("esd", {"0011_train": ["0011"], "0012_evaluation": ["0012"], "0011_test": ["0011"]})
    with pytest.raises(SpeakerLeakError, match=r"esd: fold 'f': speakers \['0011'\] are in both train and test$"):
        check_fold(dataset, _fold(["0011_train"], ["0012_evaluation"], ["0011_test"]))


def test_speaker_dependent_units_split_by_group_need_the_option():
    dataset = _dataset("esd", {f"0011_{part}": ["0011"] for part in ("train", "evaluation", "test")})
    fold = _fold(["0011_train"], ["0011_evaluation"], ["0011_test"], speaker_dependent=True)
    with pytest.raises(SpeakerLeakError, match=r"esd: .*SPEAKER-DEPENDENT.*\(config.data.allow_speaker_dependent\)"):
        check_fold(dataset, fold)
    check_fold(dataset, fold, allow_speaker_dependent=True)
