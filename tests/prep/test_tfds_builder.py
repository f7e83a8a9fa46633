"""TFDS builders: records, metadata, CMVN, idempotence, interrupted preparation, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import tensorflow_datasets as tfds

from speecheq_jax import labels
from speecheq_jax.corpora import registry
from speecheq_jax.features import logmel
from speecheq_jax.prep import prepare, tfds_builder
from speecheq_jax.run_config import base_config

SPEAKERS = {"spk_a": "train", "spk_b": "train", "spk_c": "train", "spk_d": "train", "spk_v": "valid", "spk_t": "test"}
CATEGORY_CYCLE = ("neutral", "happy", "angry", "sad")
PHONE_SETS = (["a", "b", "c"], ["b", "d"], ["e", "a", "a", "f"], [])


def make_manifest_corpus(root: Path, per_speaker: int = 5, seed: int = 0) -> Path:
    """Writes a tiny manifest corpus (noisy tones of 0.3-2.5 s, some at 22.05 kHz) under `root`."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for s, (speaker, group) in enumerate(SPEAKERS.items()):
        for i in range(per_speaker):
            rate = 22050 if i % 3 == 0 else 16000
            n = int(rng.uniform(0.3, 2.5) * rate)
            t = np.arange(n) / rate
            wave = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 400) * t) + 0.02 * rng.standard_normal(n)
            name = f"{speaker}_{i}.wav"
            soundfile.write(root / name, wave.astype(np.float32), rate)
            category = CATEGORY_CYCLE[(s + i) % 4]
            rows.append({
                "id": f"{speaker}_{i}", "audio_path": name, "speaker": speaker, "lang": "eng",
                "gender": "FM"[s % 2] if i != 1 else None, "category": category,
                "intensity": 0.0 if category == "neutral" else None if i == 2 else 0.5, "phonemes": PHONE_SETS[i % 4], "group": group,
            })
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_manifest_corpus(tmp_path_factory.mktemp("raw"))


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory) -> prepare.PreparedDataset:
    return prepare.prepare("manifest", tmp_path_factory.mktemp("data"), root=corpus, progress=False)


@pytest.mark.integration
def test_records_follow_the_example_schema(prepared, corpus):
    rows = {r["id"]: r for r in map(json.loads, (corpus / "manifest.jsonl").read_text().splitlines())}
    sources = tfds.builder_from_directory(str(prepared.path)).as_data_source()
    assert sorted(prepared.split_sizes) == sorted(SPEAKERS)
    assert prepared.vocab == ("a", "b", "c", "d", "e", "f")
    for unit, source in sources.items():
        for index in range(len(source)):
            record = source[index]
            row = rows[record["id"].decode()]
            expected_mel = logmel.log_mel(*soundfile.read(corpus / row["audio_path"], dtype="float32")[::1])
            assert record["logmel"].dtype == np.float16
            np.testing.assert_allclose(record["logmel"].astype(np.float32), expected_mel, atol=0.02, rtol=2e-3)
            assert record["num_frames"] == expected_mel.shape[0] == prepared.units[unit]["num_frames"][index]
            assert record["category"] == labels.CATEGORY_INDEX[row["category"]]
            assert record["intensity"] == (-1.0 if row["intensity"] is None else row["intensity"])
            assert record["gender"] == (-1 if row["gender"] is None else labels.GENDER_INDEX[row["gender"]])
            assert [prepared.vocab[i - 1] for i in record["phonemes"]] == row["phonemes"]


@pytest.mark.integration
def test_fold_cmvn_uses_train_units_only(prepared):
    fold = prepared.fold(None, None)
    train_frames = []
    sources = tfds.builder_from_directory(str(prepared.path)).as_data_source()
    for unit in fold["units"]["train"]:
        train_frames += [sources[unit][i]["logmel"].astype(np.float64) for i in range(len(sources[unit]))]
    stacked = np.concatenate(train_frames)
    np.testing.assert_allclose(fold["cmvn"]["mean"], stacked.mean(axis=0), atol=2e-3)
    np.testing.assert_allclose(fold["cmvn"]["std"], stacked.std(axis=0), rtol=2e-3, atol=2e-3)
    assert set(fold["units"]["test"]) == {"spk_t"} and "spk_t" not in fold["units"]["train"]


@pytest.mark.integration
def test_preparing_twice_is_a_no_op(prepared, corpus):
    before = {p: p.stat().st_mtime_ns for p in prepared.path.iterdir()}
    again = prepare.prepare("manifest", prepared.path.parents[2], root=corpus, progress=False)
    assert again.path == prepared.path
    assert {p: p.stat().st_mtime_ns for p in prepared.path.iterdir()} == before


@pytest.mark.integration
def test_label_options_give_a_different_dataset(prepared, corpus):
    other = prepare.make_builder("manifest", prepared.path.parents[2], corpus, {"label_set": ["neutral", "sad"]})
    assert other.builder_config.name != prepared.config
    with pytest.raises(prepare.NotPreparedError, match="--label_options"):
        prepare.open_prepared("manifest", prepared.path.parents[2], corpus, {"label_set": ["neutral", "sad"]})


@pytest.mark.integration
def test_interrupted_preparation_is_not_taken_as_complete(corpus, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = logmel.log_mel_many

    def fail_on_second_chunk(waves, batch_size=16):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated kill")
        return real(waves, batch_size)

    monkeypatch.setattr(logmel, "log_mel_many", fail_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        prepare.prepare("manifest", tmp_path, root=corpus, progress=False)
    with pytest.raises(prepare.NotPreparedError, match="python -m speecheq_jax.prep.prepare --corpus manifest"):
        prepare.open_prepared("manifest", tmp_path, root=corpus)
    monkeypatch.setattr(logmel, "log_mel_many", real)
    done = prepare.prepare("manifest", tmp_path, root=corpus, progress=False)
    assert sum(done.split_sizes.values()) == 5 * len(SPEAKERS)


@pytest.mark.unit
def test_config_name_depends_on_every_parameter():
    names = {
        tfds_builder.CorpusConfig().name,
        tfds_builder.CorpusConfig(root="/a").name,
        tfds_builder.CorpusConfig(label_options=labels.LabelOptions(outside="mask")).name,
        tfds_builder.CorpusConfig(synth={"num": 10}).name,
    }
    assert len(names) == 4
    assert tfds_builder.CorpusConfig(root="/a").name == tfds_builder.CorpusConfig(root="/a").name


@pytest.mark.unit
def test_a_dataset_identity_hashes_only_the_options_its_corpus_reads(tmp_path):
    def name(corpus, options=None, synth=None):
        return prepare.make_builder(corpus, tmp_path, None if corpus == "seqd_synth" else tmp_path, options,
                                    synth).builder_config.name

    assert name("casia", {"iemocap_arousal": True, "ravdess_calm": "drop"}) == name("casia")
    assert name("iemocap", {"iemocap_arousal": True}) != name("iemocap")
    assert name("casia", {"outside": "mask"}) != name("casia")
    assert name("seqd_synth", synth={}) == name("seqd_synth", synth=dict(registry.get("seqd_synth").generate_defaults))
    with pytest.raises(ValueError, match=r"seqd_synth: unknown generation parameter\(s\) \['size'\]; known: "):
        name("seqd_synth", synth={"size": 3})


@pytest.mark.unit
def test_a_corpus_entrys_own_label_options_are_checked_by_its_spec():
    config = base_config("tiny").data
    entry = {"name": "iemocap", "root": "/r", "label_options": {"iemocap_arousal": True}}
    options, _ = prepare.entry_options(config, entry)
    assert options.corpus_option("iemocap_arousal") and options.label_set is None
    with pytest.raises(ValueError, match=r"'casia': label option\(s\) \['iemocap_arousal'\] do not apply to CASIA"):
        prepare.entry_options(config, {"name": "casia", "label_options": {"iemocap_arousal": True}})


@pytest.mark.unit
def test_unknown_corpus_and_missing_root_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown corpus 'nope'"):
        prepare.prepare("nope", tmp_path)
    with pytest.raises(ValueError, match="casia: pass root="):
        prepare.prepare("casia", tmp_path)


@pytest.mark.unit
def test_a_run_wide_option_no_corpus_of_the_run_reads_is_an_error():
    config = base_config("tiny").data
    config.label_options = {"labelset": ["happy"]}
    with pytest.raises(ValueError, match=r"label_options \['labelset'\] apply to none of the run's corpora"):
        prepare.entry_options(config, config.corpora[0])
