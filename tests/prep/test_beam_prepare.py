"""Preparation on Apache Beam (DirectRunner, two worker processes) writes the single-machine dataset.

The Beam path runs in its own environment (`.venv-prep`, requirements-prep.txt: apache-beam needs
protobuf < 7), so the test runs its command with that interpreter; `bash launch/local.sh test` creates
it. SPEECHEQ_PREP_PYTHON names another interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

from speecheq_jax.prep import prepare

REPO = Path(__file__).parents[2]
PREP_PYTHON = Path(os.environ.get("SPEECHEQ_PREP_PYTHON", REPO / ".venv-prep" / "bin" / "python"))
SYNTH = {"num": 60, "seed": 3}


def beam_prepare(data_dir: Path, root: Path) -> subprocess.CompletedProcess:
    """The documented command, on this checkout, with two DirectRunner worker processes.

    Two utterances per Beam element: a unit of SEQD-synth (2 or 3 utterances) spans two elements, so the
    records of one unit come from different workers and their tables are merged.
    """
    assert PREP_PYTHON.exists(), (f"no preparation environment at {PREP_PYTHON}: python3 -m venv .venv-prep && "
                                  ".venv-prep/bin/pip install -r requirements-prep.txt (launch/local.sh test does it)")
    command = [str(PREP_PYTHON), "-m", "speecheq_jax.prep.beam_prepare", "--corpus", "seqd_synth",
               "--data_dir", str(data_dir), "--root", str(root), "--synth", json.dumps(SYNTH), "--no_progress",
               "--chunk", "2", "--runner", "DirectRunner", "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.integration
def test_beam_preparation_equals_the_single_machine_one(tmp_path):
    raw = tmp_path / "raw"
    single = prepare.prepare("seqd_synth", tmp_path / "single", root=raw, synth=SYNTH, progress=False)
    result = beam_prepare(tmp_path / "beam", raw)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    beam = prepare.open_prepared("seqd_synth", tmp_path / "beam", root=raw, synth=SYNTH)

    assert beam.config == single.config
    assert sorted(p.name for p in beam.path.iterdir()) == sorted(p.name for p in single.path.iterdir())
    assert beam.split_sizes == single.split_sizes and sum(beam.split_sizes.values()) == SYNTH["num"]
    assert (beam.vocab, beam.labels, beam.units, beam.folds) == (single.vocab, single.labels, single.units, single.folds)
    assert max(single.split_sizes.values()) > 2
    single_sources = tfds.builder_from_directory(str(single.path)).as_data_source()
    beam_sources = tfds.builder_from_directory(str(beam.path)).as_data_source()
    for unit, size in single.split_sizes.items():
        for index in range(size):
            expected, got = single_sources[unit][index], beam_sources[unit][index]
            assert sorted(got) == sorted(expected)
            for key, value in expected.items():
                np.testing.assert_array_equal(got[key], value, err_msg=f"{unit}[{index}] {key}")
