"""What crossval decides before training: each fold's config, and which units the folds test."""

import pytest

from speecheq_jax.jobs import crossval as crossval_lib
from tests.test_configs import load_config_module

pytestmark = pytest.mark.unit


def _fold(name: str, test: list[str], train: list[str]) -> dict:
    return {"name": name, "units": {"train": train, "valid": ["v"], "test": test}}


def test_fold_config_is_a_copy_naming_protocol_and_fold():
    config = load_config_module("iemocap").get_config("root=/r")
    config.lock()
    one = crossval_lib.fold_config(config, "leave_one_session_out", "session3")
    assert one.data.corpora[0]["fold"] == "session3" and one.data.corpora[0]["protocol"] == "leave_one_session_out"
    assert one.data.corpora[0]["root"] == "/r" and one.name == f"{config.name}-session3"
    assert config.data.corpora[0]["fold"] == "session1"  # the user's config is untouched


def test_units_tested_twice_are_refused_and_untested_ones_listed():
    folds = [_fold("fold1", ["a"], ["b", "only_train"]), _fold("fold2", ["b"], ["a", "only_train"])]
    assert crossval_lib._untested_units(folds) == ["only_train", "v"]
    with pytest.raises(ValueError, match=r"units \['a'\] are tested by more than one fold"):
        crossval_lib._untested_units(folds + [_fold("fold3", ["a"], ["b"])])
