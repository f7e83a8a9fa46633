"""IEMOCAP-4 with all four heads on the fixture tree: four classes end to end, every label in batches."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from speecheq_jax.features import g2p
from speecheq_jax.input import pipeline
from speecheq_jax.jobs import predict_files as predict_lib
from speecheq_jax.jobs import train_and_evaluate as train_lib
from speecheq_jax.prep.prepare import prepare_all
from tests.corpora import fixtures
from tests.test_configs import load_config_module
from tests.tiny_run import shrink

pytestmark = pytest.mark.integration
FOUR = ["neutral", "happy", "angry", "sad"]


def test_iemocap_four_heads_trains_and_predicts_exactly_its_four_classes(tmp_path):
    root = fixtures.make_iemocap(tmp_path / "IEMOCAP")
    # The fixture's 50 ms clips have 2 encoder frames: too short for any transcript's phonemes.
    for seed, wav in enumerate(sorted(root.rglob("*.wav"))):
        fixtures.write_wav(wav, seconds=1.2, seed=seed)
    config = shrink(load_config_module("iemocap").get_config(f"fold=session1,size=tiny,root={root}"),
                    tmp_path / "data", batch_size=4, buckets=(128,), steps=2, devices=1)

    prepare_all(config.data, progress=False)
    spec = pipeline.load_spec(config.data)
    assert spec.categories == tuple(FOUR)
    batch = next(pipeline.make_train_iterator(config.data, None))
    for mask in ("category_mask", "intensity_mask", "gender_mask"):
        assert batch[mask].all(), mask
    assert batch["phoneme_mask"].any(axis=1).all()
    assert batch["category"].max() < 4
    intensity = batch["intensity"][batch["intensity_mask"]]
    assert np.ptp(intensity) > 0  # arousal: a graded target, not neutral's 0

    results = train_lib.train_and_evaluate(config, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "label_mapping.json").read_text())["categories"] == FOUR
    test = results["test"]["overall"]
    assert test["category/confusion"]["labels"] == FOUR
    assert {"intensity/mae", "phoneme/per", "gender/accuracy"} <= test.keys()
    assert "eq@2" not in results["test"]["corpora"]["iemocap"]  # arousal is dimensional: EQ@1 only
    # The fixture's clips are tones (a file without speech is flagged and left unclassified); a spoken sentence
    # is classified into exactly the run's four classes.
    spoken = tmp_path / "spoken.wav"
    subprocess.run([g2p.require_espeak(), "-w", str(spoken), "this is how the emotion model hears a voice"],
                   check=True, capture_output=True)
    tone, voice = predict_lib.predict(config, tmp_path / "run", [sorted(root.rglob("*.wav"))[0], spoken],
                                      checkpoint="latest", batch_size=4)
    assert ("no_speech" in tone["flags"] and "category" not in tone) or list(tone["category_probs"]) == FOUR
    assert list(voice["category_probs"]) == FOUR and voice["category"] in FOUR
