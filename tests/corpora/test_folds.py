"""Evaluation protocols: fold membership, speaker disjointness and the leak checks."""

import collections
import dataclasses

import pytest

from speecheq_jax.corpora import read_corpus, registry
from speecheq_jax.corpora.protocols import (
    Fold, SpeakerLeakError, available_protocols, check_speaker_disjoint, make_folds, speakers_of, unit_of,
)
from speecheq_jax.utterance import Utterance
from tests.corpora import fixtures

pytestmark = pytest.mark.unit


def _speakers(data, folds):
    return {fold.name: speakers_of(fold, data.utterances) for fold in folds}


def test_iemocap_leave_one_session_out(iemocap_root):
    data = read_corpus("iemocap", iemocap_root, phonemize=False)
    folds = make_folds(data)
    assert [f.name for f in folds] == ["session1", "session2", "session3", "session4", "session5"]
    parts = _speakers(data, folds)
    assert parts["session1"]["test"] == ("Ses01F", "Ses01M") and parts["session1"]["valid"] == ("Ses02F",)
    assert [parts[f"session{n}"]["valid"] for n in range(2, 6)] == [("Ses03M",), ("Ses04F",), ("Ses05M",), ("Ses01F",)]
    everyone = {f"Ses0{n}{g}" for n in range(1, 6) for g in "FM"}
    assert set(parts["session3"]["train"]) == everyone - {"Ses03F", "Ses03M", "Ses04F"}
    assert folds[0].units["test"] == ("Ses01F", "Ses01M") and not folds[0].speaker_dependent


def test_casia_leave_one_speaker_out(casia_root):
    data = read_corpus("casia", casia_root, phonemize=False)
    parts = _speakers(data, make_folds(data))
    assert parts == {
        "liuchanhg": {"train": ("zhaoquanyin", "zhaozuoxiang"), "valid": ("wangzhe",), "test": ("liuchanhg",)},
        "wangzhe": {"train": ("liuchanhg", "zhaozuoxiang"), "valid": ("zhaoquanyin",), "test": ("wangzhe",)},
        "zhaoquanyin": {"train": ("liuchanhg", "wangzhe"), "valid": ("zhaozuoxiang",), "test": ("zhaoquanyin",)},
        "zhaozuoxiang": {"train": ("wangzhe", "zhaoquanyin"), "valid": ("liuchanhg",), "test": ("zhaozuoxiang",)},
    }


def test_ravdess_speaker_independent_folds_are_gender_balanced(ravdess_root):
    data = read_corpus("ravdess", ravdess_root, phonemize=False)
    folds = make_folds(data)
    parts = _speakers(data, folds)
    assert [f.name for f in folds] == ["fold1", "fold2", "fold3", "fold4", "fold5"]
    tested = collections.Counter(s for p in parts.values() for s in p["test"])
    assert tested == {f"Actor_0{a}": 1 for a in range(1, 7)}  # every actor tested exactly once
    for j, fold in enumerate(folds):
        assert parts[fold.name]["valid"] == parts[folds[(j + 1) % 5].name]["test"]
    # Sorted F (02, 04, 06) then M (01, 03, 05), dealt round robin into 5 buckets.
    assert [parts[f"fold{j}"]["test"] for j in range(1, 6)] == [
        ("Actor_02", "Actor_05"), ("Actor_04",), ("Actor_06",), ("Actor_01",), ("Actor_03",),
    ]


def test_esd_speaker_independent_mixes_languages(esd_root):
    data = read_corpus("esd", esd_root, phonemize=False)
    parts = _speakers(data, make_folds(data))
    # Order (lang, gender, id): cmn F 0001 0002, cmn M 0004 0005, eng ? 0012, eng F 0015 0016, eng M 0011.
    assert [parts[f"fold{j}"]["test"] for j in range(1, 6)] == [
        ("0001", "0015"), ("0002", "0016"), ("0004", "0011"), ("0005",), ("0012",),
    ]


def test_esd_official_is_speaker_dependent_and_refused_by_default(esd_root, tmp_path):
    data = read_corpus("esd", esd_root, phonemize=False)
    (fold,) = make_folds(data, "official")
    assert fold.speaker_dependent and fold.units["valid"][0] == "0001_evaluation"
    assert speakers_of(fold, data.utterances)["test"] == tuple(fixtures.ESD_SPEAKERS)
    with pytest.raises(SpeakerLeakError, match="SPEAKER-DEPENDENT"):
        check_speaker_disjoint(fold, data.utterances)
    check_speaker_disjoint(fold, data.utterances, allow_speaker_dependent=True)
    flat = read_corpus("esd", fixtures.make_esd(tmp_path, official=False), phonemize=False)
    with pytest.raises(ValueError, match="120 utterances are not in train/evaluation/test subfolders"):
        make_folds(flat, "official")
    assert available_protocols(data) == ("speaker_independent", "official")
    assert available_protocols(flat) == ("speaker_independent",)


def test_fixed_split_of_seqd_and_manifest_defaults(seqd_root):
    data = read_corpus("seqd_synth", seqd_root, phonemize=False)
    (fold,) = make_folds(data)
    assert fold.units == {"train": ("cmn_f1", "cmn_m1", "eng_f1"), "valid": ("eng_m1",), "test": ("cmn_f2", "eng_m2")}
    as_manifest = dataclasses.replace(data, spec=registry.get("manifest"))
    assert [f.name for f in make_folds(as_manifest)] == ["fixed"]
    no_split = dataclasses.replace(as_manifest, utterances=tuple(
        dataclasses.replace(u, group="") for u in data.utterances))
    assert [f.name for f in make_folds(no_split)] == ["fold1", "fold2", "fold3", "fold4", "fold5"]
    assert available_protocols(as_manifest) == ("fixed", "speaker_independent")
    assert available_protocols(no_split) == ("speaker_independent",)
    with pytest.raises(ValueError, match=r"protocol 'fixed' needs every group in \('train', 'valid', 'test'\)"):
        make_folds(no_split, "fixed")


def test_a_fixed_split_that_shares_a_speaker_is_an_error(seqd_root):
    data = read_corpus("seqd_synth", seqd_root, phonemize=False)
    leaked = tuple(dataclasses.replace(u, group="test") if u.id == "eng_f1_angry" else u for u in data.utterances)
    with pytest.raises(SpeakerLeakError, match=r"speakers \['eng_f1'\] are in both train and test"):
        make_folds(dataclasses.replace(data, utterances=leaked))


def _utt(speaker, group=""):
    return Utterance(id=speaker, audio_path="x.wav", corpus="manifest", speaker=speaker, gender=None, lang="eng",
                     text=None, phonemes=None, category=None, intensity=None, native_label="", group=group)


def test_check_speaker_disjoint_rejects_bad_folds():
    utts = [_utt("a"), _utt("b"), _utt("c")]
    with pytest.raises(SpeakerLeakError, match=r"speakers \['a'\] are in both train and valid"):
        check_speaker_disjoint(Fold("x", {"train": ("a", "b"), "valid": ("a",), "test": ("c",)}), utts)
    with pytest.raises(ValueError, match=r"names units no utterance has: \['d'\]"):
        check_speaker_disjoint(Fold("x", {"train": ("a",), "valid": ("b",), "test": ("d",)}), utts)
    with pytest.raises(ValueError, match="needs non-empty"):
        check_speaker_disjoint(Fold("x", {"train": ("a", "b"), "valid": (), "test": ("c",)}), utts)
    check_speaker_disjoint(Fold("x", {"train": ("a",), "valid": ("b",), "test": ("c",)}), utts)


def test_units_are_sanitised_speakers_and_must_not_collide():
    assert unit_of(_utt("spk-1.a")) == "spk_1_a"
    assert unit_of(_utt("0001", group="train"), by_group=True) == "0001_train"
    assert unit_of(_utt("0001"), by_group=True) == "0001"
    assert unit_of(_utt("0001", group="train")) == "0001"
    utts = [_utt("a-b"), _utt("a_b"), _utt("c")]
    with pytest.raises(ValueError, match="speaker ids collide"):
        check_speaker_disjoint(Fold("x", {"train": ("a_b",), "valid": ("c",), "test": ("c",)}), utts)


def test_protocol_names():
    assert [p.name for p in registry.get("iemocap").protocols] == ["leave_one_session_out"]
    assert [p.name for p in registry.get("esd").protocols] == ["speaker_independent", "official"]
    with pytest.raises(ValueError, match="unknown corpus 'emodb'"):
        registry.get("emodb")


def test_unknown_protocol_and_too_few_speakers(casia_root):
    data = read_corpus("casia", casia_root, phonemize=False)
    with pytest.raises(ValueError, match=r"casia has no protocol 'official'; known: \('leave_one_speaker_out',\)"):
        make_folds(data, "official")
    two = dataclasses.replace(data, spec=registry.get("ravdess"), utterances=tuple(
        u for u in data.utterances if u.speaker in ("wangzhe", "liuchanhg")))
    with pytest.raises(ValueError, match="need at least 3 speakers"):
        make_folds(two)


@pytest.mark.parametrize("corpus, protocol, num_folds", [
    ("iemocap", "leave_one_session_out", 5), ("casia", "leave_one_speaker_out", 4),
    ("ravdess", "speaker_independent", 5), ("cremad", "speaker_independent", 5),
    ("esd", "speaker_independent", 5), ("seqd_synth", "speaker_independent", 5),
])
def test_each_standard_protocol_tests_every_speaker_exactly_once(corpus, protocol, num_folds, request):
    """The cross-validation protocols: the folds' test parts partition the speakers; validation is disjoint."""
    data = read_corpus(corpus, request.getfixturevalue(f"{corpus.split('_')[0]}_root"), phonemize=False)
    folds = make_folds(data, protocol)
    assert len(folds) == num_folds
    tested = collections.Counter(speaker for fold in folds for speaker in speakers_of(fold, data.utterances)["test"])
    assert set(tested) == {utt.speaker for utt in data.utterances} and set(tested.values()) == {1}
    for fold in folds:
        parts = speakers_of(fold, data.utterances)
        assert not set(parts["valid"]) & (set(parts["train"]) | set(parts["test"]))
    assert {p.name: p.validation for p in registry.get(corpus).protocols}[protocol]  # stated for the reports
