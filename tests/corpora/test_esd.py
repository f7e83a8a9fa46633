"""ESD reader: per-speaker transcript files, official subfolders, languages, masked genders."""

import collections

import pytest

from speecheq_jax.corpora import read_corpus
from tests.corpora import fixtures

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def data(esd_root):
    return read_corpus("esd", esd_root, phonemize=False)


def test_counts_languages_and_official_parts(data):
    assert len(data.utterances) == 8 * 5 * 3 and data.excluded == {}
    assert collections.Counter(u.category for u in data.utterances) == {
        name: 24 for name in ("neutral", "angry", "happy", "sad", "surprise")
    }
    assert collections.Counter(u.lang for u in data.utterances) == {"cmn": 60, "eng": 60}
    assert collections.Counter(u.group for u in data.utterances) == {"train": 40, "evaluation": 40, "test": 40}


def test_transcripts_speakers_and_genders(data):
    by_id = {u.id: u for u in data.utterances}
    mandarin = by_id["0002_000702"]  # Happy, second utterance -> evaluation
    assert (mandarin.speaker, mandarin.lang, mandarin.native_label, mandarin.category) == ("0002", "cmn", "Happy", "happy")
    assert (mandarin.text, mandarin.group) == ("打远一看，它们的确很是美丽，", "evaluation")
    english = by_id["0015_001403"]
    assert (english.lang, english.category, english.group) == ("eng", "surprise", "test")
    assert english.text == "Author of the danger trail, Philip Steels, etc."
    genders = {u.speaker: u.gender for u in data.utterances}
    assert genders == {"0001": "F", "0002": "F", "0004": "M", "0005": "M",
                       "0011": "M", "0012": None, "0015": "F", "0016": "F"}


def test_flat_copy_has_no_group(tmp_path):
    data = read_corpus("esd", fixtures.make_esd(tmp_path, official=False), phonemize=False)
    assert len(data.utterances) == 120 and {u.group for u in data.utterances} == {""}


def test_bad_transcript_line_and_missing_line_are_excluded(tmp_path):
    root = fixtures.make_esd(tmp_path)
    transcript = root / "0011" / "0011.txt"
    lines = transcript.read_text().splitlines()
    fixtures.write_text(transcript, lines[:2] + ["0011_000003 no tab here"] + lines[3:])
    # The bad line is excluded, so its WAV has no line either: both are named.
    fixtures.expect_exclusion("esd", root, r"0011.txt:3$", "label line breaks the scheme")
    found = fixtures.expect_exclusion("esd", root, r"0011_000003.wav$", "no label or transcript line")
    assert found.detail.startswith("0011_000003 has no line in ")


def test_gb18030_transcripts_are_decoded(tmp_path):
    root = fixtures.make_esd(tmp_path)
    transcript = root / "0001" / "0001.txt"
    transcript.write_bytes(transcript.read_text(encoding="utf-8").encode("gb18030"))
    data = read_corpus("esd", root, phonemize=False)
    assert {u.text for u in data.utterances if u.speaker == "0001"} == {"打远一看，它们的确很是美丽，"}
