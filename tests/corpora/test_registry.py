"""A new corpus is one module plus one registry line: a toy corpus defined here is read, summarised and prepared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import tensorflow_datasets as tfds

from speecheq_jax import labels
from speecheq_jax.corpora import protocols, read_corpus, registry
from speecheq_jax.corpora.corpus_data import CorpusData, Exclusions, RawUtterance, ReadOptions, require_root, wav_files
from speecheq_jax.corpora.corpus_spec import CorpusSpec
from speecheq_jax.corpora.unify import unify
from speecheq_jax.prep import prepare

# --- what a corpus module holds: its layout, its reader, its spec -------------------------------
LAYOUT = "<speaker>/<emotion>_<level>_<n>.wav"


def read_toy(root: Path, options: ReadOptions) -> CorpusData:
    """Every <speaker>/<emotion>_<level>_<n>.wav under `root`; the speaker's last letter is the gender."""
    root = require_root(root, "toy", LAYOUT)
    excluded = Exclusions(options.strict)
    raws = [
        RawUtterance(id=f"{folder.name}_{wav.stem}", audio_path=wav, speaker=folder.name, gender=folder.name[-1],
                     lang="eng", text=None, native_label=wav.stem.split("_")[0], group="", source=str(wav),
                     intensity_code=wav.stem.split("_")[1])
        for folder in sorted(p for p in root.iterdir() if p.is_dir()) for wav in wav_files(folder, excluded)
    ]
    return unify(TOY, root, raws, options, excluded)


TOY = CorpusSpec(
    name="toy", title="Toy", read=read_toy, layout=LAYOUT, protocols=(protocols.SPEAKER_INDEPENDENT,),
    labels=labels.CorpusLabels(categories={"calm": "neutral", "mad": "angry", "odd": None},
                               intensity_scale={"lo": 1, "hi": 2}),
)
# -------------------------------------------------------------------------------------------------

SPEAKERS = ("s1F", "s2M", "s3F", "s4M")
FILES = ("calm_lo_0", "mad_lo_1", "mad_hi_2", "odd_hi_3")


@pytest.fixture
def toy_registered(monkeypatch):
    """The registry with TOY added (restored afterwards)."""
    monkeypatch.setattr(registry, "SPECS", dict(registry.SPECS))
    registry.register(TOY)
    return TOY


@pytest.fixture
def toy_root(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    for speaker in SPEAKERS:
        (tmp_path / "toy" / speaker).mkdir(parents=True)
        for name in FILES:
            wave = 0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 16000) + 0.01 * rng.standard_normal(8000)
            soundfile.write(tmp_path / "toy" / speaker / f"{name}.wav", wave.astype(np.float32), 16000)
    return tmp_path / "toy"


@pytest.mark.unit
def test_a_registered_corpus_is_read_with_its_labels_and_folds(toy_registered, toy_root):
    data = read_corpus("toy", toy_root, phonemize=False)
    assert len(data.utterances) == 12 and data.excluded == {"category dropped: odd is not in the taxonomy": 4}
    assert {(u.native_label, u.category, u.intensity) for u in data.utterances} == {
        ("calm", "neutral", 0.0), ("mad", "angry", 0.5), ("mad", "angry", 1.0)}
    assert toy_registered.labels.supported_scales == (1, 2)
    assert [f.name for f in protocols.make_folds(data)] == ["fold1", "fold2", "fold3", "fold4"]
    with pytest.raises(ValueError, match="'toy' is already registered"):
        registry.register(TOY)


@pytest.mark.integration
def test_a_registered_corpus_is_prepared_once_and_read_back(toy_registered, toy_root, tmp_path):
    prepared = prepare.prepare("toy", tmp_path / "data", root=toy_root, progress=False)
    assert prepared.path.parts[-3] == "toy" and sorted(prepared.split_sizes) == list(SPEAKERS)
    assert list(prepared.folds) == ["speaker_independent"] and prepared.labels["category_counts"] == {
        "angry": 8, "neutral": 4}
    record = tfds.builder_from_directory(str(prepared.path)).as_data_source()["s1F"][0]
    assert record["corpus"] == b"toy" and record["category"] in (labels.CATEGORY_INDEX["neutral"],
                                                                 labels.CATEGORY_INDEX["angry"])
    before = {p: p.stat().st_mtime_ns for p in prepared.path.iterdir()}
    assert prepare.prepare("toy", tmp_path / "data", root=toy_root, progress=False).path == prepared.path
    assert {p: p.stat().st_mtime_ns for p in prepared.path.iterdir()} == before


@pytest.mark.unit
def test_the_generated_list_matches_the_specs():
    assert set(registry.GENERATED) == {name for name in registry.MODULES if not registry.get(name).needs_root}
