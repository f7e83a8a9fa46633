"""evaluate / predict / export take the run's config from the run, the command line only its local fields."""

from __future__ import annotations

import json
import logging

import pytest

from speecheq_jax.jobs.evaluate_checkpoint import LOCAL_FIELDS, stored_run_config, with_local_fields
from speecheq_jax.run_config import ConfigError, base_config

pytestmark = pytest.mark.unit


def _run_dir(tmp_path):
    trained = base_config("S")
    trained.name = "trained"
    trained.data.data_dir = "/old/data"
    (tmp_path / "config.json").write_text(trained.to_json_best_effort())
    return trained


def test_the_stored_config_wins_but_for_the_local_fields(tmp_path, caplog):
    trained = _run_dir(tmp_path)
    local = base_config("tiny")
    local.data.data_dir = "/new/data"
    local.data.batch_size = 3
    local.mesh.shape = (1,)
    with caplog.at_level(logging.WARNING):
        config = stored_run_config(tmp_path, local)
    assert config.model.d_model == trained.model.d_model != local.model.d_model
    assert config.name == "trained"
    assert (config.data.data_dir, config.data.batch_size, tuple(config.mesh.shape)) == ("/new/data", 3, (1,))
    assert "name, model" in caplog.text and "ignored" in caplog.text
    assert stored_run_config(tmp_path).data.data_dir == "/old/data"  # no command line: all of it stored
    assert set(LOCAL_FIELDS) == {"mesh", "data.data_dir", "data.batch_size", "data.worker_count"}


def test_a_card_config_gets_this_machines_local_fields(tmp_path):
    trained = _run_dir(tmp_path)
    local = stored_run_config(tmp_path, base_config("tiny"))
    config = with_local_fields(json.loads(trained.to_json_best_effort()), local)
    assert config.model.num_layers == trained.model.num_layers and config.data.batch_size == local.data.batch_size


def test_a_directory_without_a_run_is_one_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"config.json does not exist: is .* a run directory\? \(or pass --config\)"):
        stored_run_config(tmp_path)
    assert stored_run_config(tmp_path, base_config("tiny")).name == base_config("tiny").name
