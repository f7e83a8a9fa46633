"""The Grain pipeline: batches, masks, determinism, resume, eval coverage, mixing, errors."""

from __future__ import annotations

import collections
import json
import logging

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from speecheq_jax.features import logmel
from speecheq_jax.input import batch as batch_lib
from speecheq_jax.input import buckets, pipeline, sources
from speecheq_jax.input.data_config import default_data_config
from speecheq_jax.prep import prepare
from tests.prep.test_tfds_builder import make_manifest_corpus


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    root = make_manifest_corpus(tmp_path_factory.mktemp("raw"), per_speaker=6)
    data_dir = tmp_path_factory.mktemp("data")
    prepare.prepare("manifest", data_dir, root=root, progress=False)
    cfg = default_data_config()
    cfg.data_dir = str(data_dir)
    cfg.corpora = [{"name": "manifest", "root": str(root), "fold": None, "protocol": None, "weight": 1.0}]
    cfg.batch_size = 4
    cfg.buckets = (64, 128, 256)
    cfg.shuffle_window = 8
    cfg.prefetch = 1
    return cfg


def _take(iterator, n):
    return [next(iterator) for _ in range(n)]


@pytest.mark.integration
def test_train_batches_follow_the_contract_and_mask_padding(config):
    spec = pipeline.load_spec(config)
    for batch in _take(pipeline.make_train_iterator(config, None), 8):
        batch_lib.validate(batch)
        t = batch["logmel"].shape[1]
        assert t in config.buckets and batch["phonemes"].shape[1] == t // 4
        assert np.all(batch["logmel"][~batch["frame_mask"]] == 0)
        lengths = batch["frame_mask"].sum(axis=1)
        assert np.all(batch["frame_mask"] == (np.arange(t)[None] < lengths[:, None]))
        assert np.all(batch["phonemes"][~batch["phoneme_mask"]] == 0)
        assert np.all((batch["phonemes"][batch["phoneme_mask"]] >= 1)
                      & (batch["phonemes"][batch["phoneme_mask"]] <= len(spec.vocab)))
        assert batch["example_mask"].all()


@pytest.mark.integration
def test_same_seed_same_batches_other_seed_other_order(config):
    first = _take(pipeline.make_train_iterator(config, None), 6)
    second = _take(pipeline.make_train_iterator(config, None), 6)
    for a, b in zip(first, second):
        for key in batch_lib.keys():
            np.testing.assert_array_equal(a[key], b[key])
    other = config.copy_and_resolve_references()
    other.seed = 1
    assert any(not np.array_equal(a["index"], b["index"])
               for a, b in zip(first, _take(pipeline.make_train_iterator(other, None), 6)))


@pytest.mark.integration
def test_resume_mid_epoch_gives_the_same_batches(config):
    iterator = pipeline.make_train_iterator(config, None)
    _take(iterator, 3)
    state = iterator.get_state()
    expected = _take(iterator, 7)  # crosses the epoch boundary (4 train speakers x 6 / 4 = 6 batches)
    resumed = pipeline.make_train_iterator(config, None)
    resumed.set_state(state)
    for a, b in zip(expected, _take(resumed, 7)):
        for key in batch_lib.keys():
            np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.integration
def test_every_train_example_once_per_epoch(config):
    seen = np.concatenate([b["index"] for b in _take(pipeline.make_train_iterator(config, None), 6)])
    assert sorted(seen) == list(range(24))


@pytest.mark.integration
@pytest.mark.parametrize("process_count", [1, 3])
def test_eval_sees_every_example_exactly_once(config, process_count):
    cfg = config.copy_and_resolve_references()
    cfg.batch_size = 3 * 4
    seen = collections.Counter()
    for process_index in range(process_count):
        batches, table = pipeline.make_eval_iterator(cfg, "test", None, process_index=process_index,
                                                     process_count=process_count)
        for batch in batches:
            real = batch["example_mask"]
            seen.update(batch["index"][real].tolist())
            for mask in ("category_mask", "intensity_mask", "gender_mask"):
                assert not batch[mask][~real].any()
            assert not batch["phoneme_mask"][~real].any() and not batch["frame_mask"][~real].any()
            assert np.all(batch["index"][~real] == -1)
    assert sorted(seen) == list(range(len(table))) and set(seen.values()) == {1}
    assert {row["speaker"] for row in table} == {"spk_t"} and len(table) == 6


@pytest.mark.integration
def test_datasets_open_once_for_spec_training_and_every_validation(config):
    opened = sources.open_sources(config)
    pipeline.load_spec(config)
    pipeline.make_train_iterator(config, None)
    for _ in range(2):
        list(pipeline.make_eval_iterator(config, "valid", None)[0])
    other_batching = config.copy_and_resolve_references()
    other_batching.batch_size = 2
    assert sources.open_sources(other_batching) is opened
    assert all("records" in corpus.__dict__ for corpus in opened.corpora)  # readers opened, and kept


@pytest.mark.integration
def test_eval_keeps_examples_longer_than_every_bucket(config):
    cfg = config.copy_and_resolve_references()
    cfg.buckets = (32,)
    batches, table = pipeline.make_eval_iterator(cfg, "valid", None)
    shapes = {b["logmel"].shape[1] for b in batches}
    assert max(shapes) > 32 and all(s % 32 == 0 for s in shapes)


@pytest.mark.integration
def test_mixing_follows_the_weights(config):
    cfg = config.copy_and_resolve_references()
    twin = dict(cfg.corpora[0])
    cfg.corpora = [cfg.corpora[0], {**twin, "weight": 3.0}]
    corpus_ids = np.concatenate([b["corpus_id"] for b in _take(pipeline.make_train_iterator(cfg, None), 12)])
    share = np.mean(corpus_ids == 1)
    assert abs(share - 0.75) < 0.05


@pytest.mark.integration
def test_global_arrays_are_sharded_on_the_data_axis(config):
    mesh = jax.make_mesh((4,), ("data",), axis_types=(jax.sharding.AxisType.Auto,), devices=jax.devices()[:4])
    batch = next(pipeline.make_train_iterator(config, mesh))
    assert isinstance(batch["logmel"], jax.Array) and batch["logmel"].shape[0] == 4
    assert len(batch["logmel"].addressable_shards) == 4 and batch["logmel"].addressable_shards[0].data.shape[0] == 1


@pytest.mark.integration
def test_missing_dataset_unknown_corpus_and_corrupt_record_are_clear(config, tmp_path, monkeypatch):
    missing = config.copy_and_resolve_references()
    missing.data_dir = str(tmp_path)
    with pytest.raises(prepare.NotPreparedError, match="python -m speecheq_jax.prep.prepare --corpus manifest"):
        pipeline.make_train_iterator(missing, None)
    unknown = config.copy_and_resolve_references()
    unknown.corpora = [{**config.corpora[0], "name": "librispeech"}]
    with pytest.raises(ValueError, match=r"corpora\[0\].name='librispeech'"):
        pipeline.load_spec(unknown)
    real = tfds.core.read_only_builder.ReadOnlyBuilder.as_data_source

    def truncated(self, *args, **kwargs):
        class Broken:
            def __init__(self, source):
                self.source = source

            def __len__(self):
                return len(self.source)

            def __getitem__(self, index):
                record = dict(self.source[index])
                record["logmel"] = record["logmel"][:-1]
                return record

        return {k: Broken(v) for k, v in real(self, *args, **kwargs).items()}

    monkeypatch.setattr(tfds.core.read_only_builder.ReadOnlyBuilder, "as_data_source", truncated)
    monkeypatch.setattr(sources, "_OPENED", {})  # the datasets open again, through the patched reader
    with pytest.raises(ValueError, match="corrupt record: .* split 'spk_"):
        next(pipeline.make_train_iterator(config, None))


@pytest.mark.integration
def test_unalignable_phonemes_are_masked_not_bucketed(tmp_path, caplog):
    # Validation speaker: one label longer than its encoder frames, one that only its
    # adjacent repeats make unalignable, one exactly as long as its encoder frames.
    root = make_manifest_corpus(tmp_path / "raw", per_speaker=3)
    rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]
    valid = [r for r in rows if r["speaker"] == "spk_v"]
    frames = [logmel.log_mel(logmel.read_audio(root / r["audio_path"])).shape[0] for r in valid]
    encoder = [-(-n // 4) for n in frames]
    valid[0]["phonemes"] = ["a", "b"] * encoder[0] + ["a"]  # L = 2 T' + 1
    valid[1]["phonemes"] = ["a"] * encoder[1]  # L = T', T' - 1 repeats
    valid[2]["phonemes"] = ["a", "b"] * (encoder[2] // 2) + ["a"] * (encoder[2] % 2)  # L = T', no repeat
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = default_data_config()
    cfg.data_dir = str(tmp_path / "data")
    prepare.prepare("manifest", cfg.data_dir, root=root, progress=False)
    cfg.corpora = [{"name": "manifest", "root": str(root), "fold": None, "protocol": None, "weight": 1.0}]
    cfg.batch_size, cfg.buckets = 4, (64, 128, 256)
    with caplog.at_level(logging.INFO):
        batches, table = pipeline.make_eval_iterator(cfg, "valid", None)
        batches = list(batches)
    labelled = {}
    for batch in batches:
        # The bucket holds the frames; phonemes never push an example into a larger one.
        longest = batch["frame_mask"].sum(axis=1).max()
        assert batch["logmel"].shape[1] == buckets.bucket_or_extend(int(longest), cfg.buckets)
        for row in np.flatnonzero(batch["example_mask"]):
            labelled[table[batch["index"][row]]["id"]] = int(batch["phoneme_mask"][row].sum())
    assert labelled[valid[0]["id"]] == 0 and labelled[valid[1]["id"]] == 0
    assert labelled[valid[2]["id"]] == encoder[2]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "1 of 3 examples have more phonemes than encoder frames" in messages
    assert f"{encoder[1] - 1} adjacent repeats) cannot be aligned" in messages
