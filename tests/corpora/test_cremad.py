"""CREMA-D reader: file-name fields, the 12 sentences, genders from VideoDemographics.csv."""

import collections
from pathlib import Path

import pytest

from speecheq_jax.corpora import CorpusLayoutError, read_corpus
from tests.corpora import fixtures

pytestmark = pytest.mark.unit


def test_labels_levels_sentences_and_genders(cremad_root):
    data = read_corpus("cremad", cremad_root, phonemize=False)
    assert len(data.utterances) == 6 * 5
    assert data.excluded == {"header only, no samples": 1}
    assert [(Path(e.file).name, e.reason) for e in data.excluded_files] == [
        ("1006_WSI_FEA_MD.wav", "header only, no samples")]
    assert collections.Counter(u.category for u in data.utterances) == {
        "angry": 6, "neutral": 6, "sad": 6, "happy": 6, "disgust": 6,
    }
    by_id = {u.id: u for u in data.utterances}
    assert (by_id["1001_DFA_ANG_HI"].intensity, by_id["1001_DFA_ANG_HI"].text) == (1.0, "Don't forget a jacket")
    assert by_id["1002_TIE_SAD_LO"].intensity == pytest.approx(1 / 3)
    assert by_id["1003_MTI_DIS_MD"].intensity == pytest.approx(2 / 3)
    assert by_id["1004_IOM_HAP_XX"].intensity is None  # XX: unspecified, masked, never a class
    assert by_id["1005_IEO_NEU_XX"].intensity == 0.0
    assert by_id["1004_IOM_HAP_XX"].text == "I'm on my way to the meeting"
    genders = {u.speaker: u.gender for u in data.utterances}
    assert genders == {"1001": "M", "1002": "F", "1003": "F", "1004": "M", "1005": "M", "1006": "F"}


def test_bad_names_are_excluded_and_named_and_strict_makes_them_errors(tmp_path):
    root = fixtures.make_cremad(tmp_path / "a")
    fixtures.write_wav(root / "AudioWAV" / "1001_XYZ_ANG_HI.wav")
    found = fixtures.expect_exclusion("cremad", root, r"1001_XYZ_ANG_HI.wav$", "file name breaks the naming scheme")
    assert found.detail == "unknown sentence code XYZ"
    root = fixtures.make_cremad(tmp_path / "b")
    fixtures.write_wav(root / "AudioWAV" / "1001_DFA_ANG_ZZ.wav")
    found = fixtures.expect_exclusion("cremad", root, r"1001_DFA_ANG_ZZ.wav$", "unknown label code")
    assert "cremad: unknown intensity code 'ZZ'" in found.detail
    root = fixtures.make_cremad(tmp_path / "c")
    fixtures.write_wav(root / "AudioWAV" / "1091_DFA_ANG_HI.wav")
    found = fixtures.expect_exclusion("cremad", root, r"1091_DFA_ANG_HI.wav$", "file name breaks the naming scheme")
    assert found.detail == "actor 1091 is not in VideoDemographics.csv"
    demographics = root / "VideoDemographics.csv"
    demographics.write_text(demographics.read_text().replace("1003,32,Female", "1003,32,F"))
    with pytest.raises(ValueError, match=r"VideoDemographics.csv:4: Sex 'F' for actor 1003"):
        read_corpus("cremad", root, phonemize=False)
    demographics.unlink()
    with pytest.raises(CorpusLayoutError, match="missing .*VideoDemographics.csv"):
        read_corpus("cremad", root, phonemize=False)
    with pytest.raises(CorpusLayoutError, match="no AudioWAV folder"):
        read_corpus("cremad", root / "AudioWAV", phonemize=False)
