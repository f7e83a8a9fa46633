"""SEQD-synth: design balance, speakers, labels, determinism, idempotence, bad input."""

import collections
import json
import shutil
from pathlib import Path

import pytest
import soundfile

from speecheq_jax.features import g2p
from speecheq_jax.synth import generate
from speecheq_jax.synth.voices import EMOTIONS, Prosody, prosody, speakers, variant_text
from speecheq_jax.utterance import read_jsonl

NUM = 24
SEED = 3


def _corpus_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A small corpus built with 2 worker processes."""
    out = tmp_path_factory.mktemp("seqd") / "corpus"
    generate.generate(out, NUM, SEED, workers=2, progress=False)
    return out


@pytest.fixture(scope="module")
def utterances(corpus):
    return list(read_jsonl(corpus / generate.MANIFEST))


@pytest.mark.unit
def test_plan_balances_categories_intensities_speakers_and_sentences():
    jobs = generate.plan(720, seed=0, langs=("cmn", "eng"))
    assert [job.index for job in jobs] == list(range(720))
    for lang in ("cmn", "eng"):
        own = [job for job in jobs if job.lang == lang]
        assert len(own) == 360
        assert collections.Counter(job.emotion for job in own) == {e: 60 for e in EMOTIONS}
        for emotion in EMOTIONS[1:]:
            assert collections.Counter(job.level for job in own if job.emotion == emotion) == {1: 20, 2: 20, 3: 20}
        assert set(collections.Counter(job.voice.speaker for job in own).values()) == {30}
        sentence_uses = collections.Counter(job.sentence for job in own)
        assert max(sentence_uses.values()) - min(sentence_uses.values()) <= 1
        assert len(sentence_uses) == min(360, len(generate.load_sentences(lang)))


@pytest.mark.unit
def test_plan_depends_on_seed():
    first, second = generate.plan(60, 0, ("eng",)), generate.plan(60, 1, ("eng",))
    assert first == generate.plan(60, 0, ("eng",))
    assert [(j.voice, j.emotion, j.sentence) for j in first] != [(j.voice, j.emotion, j.sentence) for j in second]


@pytest.mark.unit
def test_speakers_are_distinct_and_split_speaker_disjoint_and_gender_balanced():
    all_voices = [v for lang in ("cmn", "eng") for v in speakers(lang)]
    assert len({v.speaker for v in all_voices}) == 24
    assert len({(v.pitch_floor_hz, v.pitch_span_hz, v.formant_scale, v.lang) for v in all_voices}) == 24
    for lang in ("cmn", "eng"):
        per_split = collections.Counter((v.split, v.gender) for v in speakers(lang))
        assert per_split == {("train", "F"): 4, ("train", "M"): 4, ("valid", "F"): 1, ("valid", "M"): 1,
                             ("test", "F"): 1, ("test", "M"): 1}
    assert min(v.pitch_floor_hz for v in all_voices if v.gender == "F") > max(
        v.pitch_floor_hz for v in all_voices if v.gender == "M")


@pytest.mark.unit
def test_prosody_grows_with_intensity_and_rejects_bad_levels():
    assert [prosody("happy", k).f0_scale for k in (1, 2, 3)] == pytest.approx([1.07, 1.14, 1.21])
    assert prosody("sad", 3).rate_scale == pytest.approx(0.73)
    assert prosody("neutral", 0) == Prosody()
    with pytest.raises(ValueError, match="neutral intensity must be one of"):
        prosody("neutral", 1)
    with pytest.raises(ValueError, match="unknown SEQD-synth emotion 'joy'"):
        prosody("joy", 1)


@pytest.mark.unit
def test_variant_text_scales_the_speakers_pitch():
    voice = speakers("eng")[0]
    text = variant_text(voice, prosody("happy", 2))
    floor = voice.pitch_floor_hz * 1.14
    top = floor + voice.pitch_span_hz * 1.6
    assert f"pitch {round(floor)} {round(top)}\n" in text
    assert text.startswith("language variant\n")


@pytest.mark.unit
def test_bad_arguments_are_rejected_with_clear_messages(tmp_path, monkeypatch):
    assert generate.normalize_langs(["cmn", "en"]) == ("cmn", "eng")
    with pytest.raises(ValueError, match="num must be >= 1"):
        generate.generate(tmp_path, 0)
    with pytest.raises(ValueError, match=r"unknown SEQD-synth language\(s\) \['fra'\]"):
        generate.generate(tmp_path, 4, langs=("fra",))
    with pytest.raises(ValueError, match="listed twice"):
        generate.normalize_langs(["eng", "en"])
    with pytest.raises(SystemExit) as exit_info:
        generate.main(["--out", str(tmp_path), "--num", "-3"])
    assert exit_info.value.code == 2
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "sox" else "/usr/bin/" + name)
    with pytest.raises(RuntimeError, match="sox is not installed: run `apt-get install"):
        generate.generate(tmp_path, 4)
    assert not any(tmp_path.iterdir())


@pytest.mark.integration
def test_manifest_schema_and_label_ranges(corpus, utterances):
    assert [u.id for u in utterances] == [f"seqd_{('cmn', 'eng')[i % 2]}_{i:06d}" for i in range(NUM)]
    voices = {v["speaker"]: v for v in json.loads((corpus / "speakers.json").read_text())}
    for u in utterances:
        emotion, level = u.native_label.split("-")
        assert (u.corpus, u.category) == ("seqd_synth", emotion)
        assert u.text in generate.load_sentences(u.lang)
        assert u.intensity == pytest.approx(int(level) / 3)
        assert (level == "0") == (emotion == "neutral")
        assert (u.gender, u.group, u.lang) == (voices[u.speaker]["gender"], voices[u.speaker]["split"],
                                               voices[u.speaker]["lang"])
    assert {u.category for u in utterances} == set(EMOTIONS)
    assert {u.group for u in utterances} == {"train", "valid", "test"}


@pytest.mark.integration
def test_phonemes_are_spoken_tokens_in_the_saved_inventory(corpus, utterances):
    for lang in ("cmn", "eng"):
        inventory = set((corpus / f"phonemes_{lang}.txt").read_text(encoding="utf-8").split())
        for u in (u for u in utterances if u.lang == lang):
            assert u.phonemes and set(u.phonemes) <= inventory
            if u.category != "sad":  # word gaps (sad) can change linking sounds such as English r
                assert u.phonemes == g2p.phonemize(u.text, u.lang)
    assert any(tone in set(u.phonemes) for u in utterances for tone in ("51", "55", "35", "214"))


@pytest.mark.integration
def test_wavs_are_16k_mono_pcm16_of_speech_length(corpus, utterances):
    for u in utterances:
        info = soundfile.info(corpus / u.audio_path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 0.8 < info.duration < 12.0


@pytest.mark.integration
def test_one_worker_gives_byte_identical_files(corpus, tmp_path):
    generate.generate(tmp_path, NUM, SEED, workers=1, progress=False)
    assert _corpus_files(tmp_path) == _corpus_files(corpus)


@pytest.mark.integration
def test_complete_corpus_is_reused_and_partial_one_regenerated(corpus, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(corpus, target)
    (target / "notes.txt").write_text("not the generator's")
    reference = _corpus_files(corpus)
    some_wav = target / "wav" / "eng" / "seqd_eng_000001.wav"
    some_wav.write_bytes(b"stale")
    generate.generate(target, NUM, SEED, workers=1, progress=False)
    assert some_wav.read_bytes() == b"stale"  # complete with these parameters: untouched

    (target / generate.MARKER).unlink()  # as if interrupted before the end
    generate.generate(target, NUM, SEED, workers=1, progress=False)
    assert {k: v for k, v in _corpus_files(target).items() if k != "notes.txt"} == reference
    assert (target / "notes.txt").read_text() == "not the generator's"


@pytest.mark.integration
def test_other_parameters_regenerate(corpus, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(corpus, target)
    generate.generate(target, 6, SEED + 1, langs=("en",), workers=1, progress=False)
    marker = json.loads((target / generate.MARKER).read_text())
    assert (marker["num"], marker["seed"], marker["langs"]) == (6, SEED + 1, ["eng"])
    assert sorted(p.name for p in (target / "wav").iterdir()) == ["eng"]
    assert len(list(read_jsonl(target / generate.MANIFEST))) == 6
    assert not (target / "phonemes_cmn.txt").exists()
