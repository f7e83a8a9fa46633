"""Generic manifest reader: CSV and JSONL, paths relative to the manifest, strict columns."""

import json

import pytest

from speecheq_jax.corpora import CorpusLayoutError, read_corpus
from tests.corpora import fixtures

pytestmark = pytest.mark.unit

HEADER = "audio_path,speaker,lang,gender,category,intensity,text,phonemes,group"


def _csv(tmp_path, rows):
    for row in rows:
        fixtures.write_wav(tmp_path / "audio" / f"{row.split(',')[0].split('/')[-1]}")
    return fixtures.write_text(tmp_path / "manifest.csv", [HEADER] + [f"audio/{row}" for row in rows])


def test_csv_rows_become_utterances(tmp_path):
    path = _csv(tmp_path, [
        "a.wav,s1,eng,F,angry,0.5,hello there,h @ l oU,train",
        "b.wav,s2,cmn,,,,,,valid",
        "c.wav,s3,eng,M,neutral,,,,test",
    ])
    data = read_corpus("manifest", tmp_path, phonemize=False)
    assert data.corpus == "manifest" and data.root == str(path)
    a, b, c = data.utterances
    assert (a.id, a.speaker, a.gender, a.category, a.intensity, a.text) == ("audio/a", "s1", "F", "angry", 0.5, "hello there")
    assert a.phonemes == ("h", "@", "l", "oU") and a.audio_path == str(tmp_path / "audio" / "a.wav")
    assert (b.gender, b.category, b.intensity, b.text, b.phonemes) == (None, None, None, None, None)
    assert (c.category, c.intensity, c.group) == ("neutral", 0.0, "test")


def test_jsonl_with_native_labels_and_the_file_path_as_root(tmp_path):
    fixtures.write_wav(tmp_path / "x.wav")
    rows = [{"id": "x1", "audio_path": "x.wav", "speaker": "s", "lang": "eng", "native_label": "sad", "phonemes": ["s", "a"]}]
    path = fixtures.write_text(tmp_path / "mine.jsonl", [json.dumps(row) for row in rows])
    (utt,) = read_corpus("manifest", path, phonemize=False).utterances
    assert (utt.id, utt.category, utt.native_label, utt.phonemes) == ("x1", "sad", "sad", ("s", "a"))


@pytest.mark.parametrize("row, reason, detail", [
    ("a.wav,s1,eng,X,angry,,,,", "label line breaks the scheme", "gender 'X'; expected F, M or empty"),
    ("a.wav,s1,eng,F,joy,,,,", "unknown label code", "manifest: unknown emotion code 'joy'"),
    ("a.wav,s1,eng,F,angry,1.5,,,", "label line breaks the scheme", "intensity 1.5 is outside [0, 1]"),
    ("a.wav,,eng,F,angry,,,,", "label line breaks the scheme", "missing value(s) for ['speaker']"),
])
def test_bad_rows_are_excluded_naming_file_and_line(tmp_path, row, reason, detail):
    _csv(tmp_path, [row, "ok.wav,s1,eng,F,angry,,,,"])
    found = fixtures.expect_exclusion("manifest", tmp_path, r"manifest.csv:2$", reason)
    assert found.detail.startswith(detail)


def test_unknown_column_missing_audio_and_missing_manifest(tmp_path):
    fixtures.write_text(tmp_path / "m.jsonl", [json.dumps({"audio_path": "a.wav", "speaker": "s", "lang": "eng",
                                                           "category": "sad", "emotion": "sad"})])
    with pytest.raises(CorpusLayoutError, match=r"m.jsonl:1: unknown column\(s\) \['emotion'\]"):
        read_corpus("manifest", tmp_path / "m.jsonl", phonemize=False)
    fixtures.write_text(tmp_path / "n.jsonl", [json.dumps({"audio_path": "gone.wav", "speaker": "s", "lang": "eng",
                                                           "category": "sad"}), "{not json"])
    fixtures.expect_exclusion("manifest", tmp_path / "n.jsonl", r"gone.wav$", "audio file missing")
    found = fixtures.expect_exclusion("manifest", tmp_path / "n.jsonl", r"n.jsonl:2$", "label line breaks the scheme")
    assert found.detail.startswith("not valid JSON")
    with pytest.raises(CorpusLayoutError, match="found none"):
        read_corpus("manifest", tmp_path, phonemize=False)
