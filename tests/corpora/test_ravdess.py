"""RAVDESS reader: every label from the file name; song and other modalities counted out."""

import collections

import pytest

from speecheq_jax import labels
from speecheq_jax.corpora import read_corpus
from tests.corpora import fixtures

pytestmark = pytest.mark.unit


def test_speech_files_with_intensity_gender_and_statement(ravdess_root):
    data = read_corpus("ravdess", ravdess_root, phonemize=False)
    assert len(data.utterances) == 6 * 4
    assert data.excluded == {"vocal channel 02 (not 01 speech; 02 is song)": 6, "modality 01 (not 03 audio-only)": 1}
    assert collections.Counter(u.category for u in data.utterances) == {"neutral": 12, "angry": 6, "happy": 6}
    by_id = {u.id: u for u in data.utterances}
    angry = by_id["03-01-05-02-01-01-03"]
    assert (angry.speaker, angry.gender, angry.category, angry.intensity) == ("Actor_03", "M", "angry", 1.0)
    assert (angry.text, angry.native_label) == ("Kids are talking by the door", "05")
    happy = by_id["03-01-03-01-02-02-04"]
    assert (happy.gender, happy.intensity, happy.text) == ("F", 0.5, "Dogs are sitting by the door")
    calm = by_id["03-01-02-02-02-01-06"]
    assert (calm.category, calm.intensity, calm.native_label) == ("neutral", 0.0, "02")


def test_calm_can_be_dropped(ravdess_root):
    data = read_corpus("ravdess", ravdess_root, labels.LabelOptions.from_mapping({"ravdess_calm": "drop"}), phonemize=False)
    assert len(data.utterances) == 18
    assert data.excluded["category dropped: calm dropped (ravdess_calm=drop)"] == 6


def test_bad_names_are_excluded_and_named(tmp_path):
    root = fixtures.make_ravdess(tmp_path, actors=1)
    fixtures.write_wav(root / "Actor_01" / "03-01-05-02-01-01-02.wav")
    fixtures.write_wav(root / "Actor_01" / "03-01-09-02-01-01-01.wav")
    fixtures.write_wav(root / "Actor_01" / "angry.wav")
    data = read_corpus("ravdess", root, phonemize=False)
    assert [(e.file.rsplit("/", 1)[1], e.reason, e.detail) for e in data.excluded_files] == [
        ("03-01-05-02-01-01-02.wav", "file name breaks the naming scheme",
         "actor 02 in the name but the folder is Actor_01"),
        ("03-01-09-02-01-01-01.wav", "unknown label code",
         data.excluded_files[1].detail),
        ("angry.wav", "file name breaks the naming scheme", "expected MM-VV-EE-II-SS-RR-AA, e.g. 03-01-05-02-01-01-01"),
    ]
    assert "ravdess: unknown emotion code '09'" in data.excluded_files[1].detail
    assert len(data.utterances) == 4
