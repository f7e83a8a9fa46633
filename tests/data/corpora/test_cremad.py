"""CREMA-D reader: file-name fields, the 12 sentences, genders from VideoDemographics.csv."""

import collections

import pytest

from speecheq_jax.data.corpora import CorpusLayoutError, read_corpus
from tests.data.corpora import fixtures

pytestmark = pytest.mark.unit


def test_labels_levels_sentences_and_genders(cremad_root):
    data = read_corpus("cremad", cremad_root, phonemize=False)
    assert len(data.utterances) == 6 * 5
    assert data.excluded == {"audio file has no samples": 1}
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


def test_bad_inputs_name_file_and_line(tmp_path):
    root = fixtures.make_cremad(tmp_path / "a")
    fixtures.write_wav(root / "AudioWAV" / "1001_XYZ_ANG_HI.wav")
    with pytest.raises(ValueError, match="1001_XYZ_ANG_HI.wav: unknown sentence code XYZ"):
        read_corpus("cremad", root, phonemize=False)
    root = fixtures.make_cremad(tmp_path / "b")
    fixtures.write_wav(root / "AudioWAV" / "1001_DFA_ANG_ZZ.wav")
    with pytest.raises(ValueError, match="1001_DFA_ANG_ZZ.wav: unknown cremad intensity code 'ZZ'"):
        read_corpus("cremad", root, phonemize=False)
    root = fixtures.make_cremad(tmp_path / "c")
    fixtures.write_wav(root / "AudioWAV" / "1091_DFA_ANG_HI.wav")
    with pytest.raises(ValueError, match="actor 1091 is not in VideoDemographics.csv"):
        read_corpus("cremad", root, phonemize=False)
    demographics = root / "VideoDemographics.csv"
    demographics.write_text(demographics.read_text().replace("1003,32,Female", "1003,32,F"))
    with pytest.raises(ValueError, match=r"VideoDemographics.csv:4: Sex 'F' for actor 1003"):
        read_corpus("cremad", root, phonemize=False)
    demographics.unlink()
    with pytest.raises(CorpusLayoutError, match="missing .*VideoDemographics.csv"):
        read_corpus("cremad", root, phonemize=False)
    with pytest.raises(CorpusLayoutError, match="no AudioWAV folder"):
        read_corpus("cremad", root / "AudioWAV", phonemize=False)
