"""Real-corpus configs: each names all four heads, and trains exactly those its reader has labels for."""

import importlib.util
from pathlib import Path

import pytest

from speecheq_jax.corpora import read_corpus
from speecheq_jax.model.model_config import HEAD_NAMES
from speecheq_jax.prep import prepare
from tests.corpora import fixtures

pytestmark = pytest.mark.unit
CONFIGS = Path(__file__).parents[1] / "configs"
REAL = ("iemocap", "casia", "esd", "ravdess", "cremad")


def load_config_module(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_config", CONFIGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _labelled_heads(utterances) -> set[str]:
    """Heads that the reader's utterances carry labels for (phonemes: a transcript g2p would read)."""
    has = {
        "category": any(u.category is not None for u in utterances),
        "intensity": any(u.intensity is not None and u.category != "neutral" for u in utterances),
        "phoneme": any(u.text or u.phonemes for u in utterances),
        "gender": any(u.gender is not None for u in utterances),
    }
    return {head for head, present in has.items() if present}


@pytest.mark.parametrize("corpus", REAL)
def test_config_trains_exactly_the_heads_its_reader_labels(corpus, tmp_path):
    module = load_config_module(corpus)
    assert sorted([*module.HEADS, *module.NOT_TRAINED]) == sorted(HEAD_NAMES)
    config = module.get_config(f"root={tmp_path}")
    assert tuple(config.model.heads) == tuple(h for h in HEAD_NAMES if h in module.HEADS)
    for head in HEAD_NAMES:
        assert head in module.__doc__, f"configs/{corpus}.py docstring does not say what happens to {head}"
    root = getattr(fixtures, f"make_{corpus}")(tmp_path)
    options, _ = prepare.entry_options(config.data, config.data.corpora[0])
    data = read_corpus(corpus, root, options, phonemize=False)
    assert _labelled_heads(data.utterances) == set(module.HEADS)
