"""EmoBox metadata as a corpus: speakers derived, labels mapped, official folds, bad lines named."""

from __future__ import annotations

import pytest

from speecheq_jax.corpora import emobox, protocols, read_corpus
from speecheq_jax.corpora.corpus_data import BAD_LINE, UNKNOWN_CODE
from tests.corpora import fixtures

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def emobox_dirs(tmp_path_factory):
    return fixtures.make_emobox(tmp_path_factory.mktemp("emobox"))


def _read(dirs, **kwargs):
    return read_corpus("emobox", emobox.root_of(*dirs), phonemize=False, **kwargs)


def test_iemocap_lines_get_our_iemocap_speakers_and_fold_signatures(emobox_dirs):
    data = _read(emobox_dirs)
    by_id = {utt.id: utt for utt in data.utterances}
    assert len(by_id) == 11  # 12 good keys less Ses03F_impro01_M001 (in fold 1's train AND test)
    first = by_id["Ses01F_impro01_M000"]
    assert (first.speaker, first.gender, first.group, first.category, first.native_label) == (
        "Ses01M", "M", "trr", "happy", "hap")
    assert by_id["Ses02F_impro01_F001"].group == "rtr" and by_id["Ses02F_impro01_F001"].category == "angry"
    assert {utt.speaker for utt in data.utterances} == {f"Ses0{s}{g}" for s in (1, 2, 3) for g in "FM"}


def test_bad_lines_are_excluded_and_named_with_their_reason(emobox_dirs):
    data = _read(emobox_dirs)
    named = {(e.file.rsplit("/", 1)[-1], e.reason) for e in data.excluded_files}
    assert named == {
        ("iemocap_test_fold_1.jsonl:5", BAD_LINE),                        # not JSON
        ("iemocap_test_fold_1.jsonl:6", BAD_LINE),                        # no 'emo'
        ("Ses01F_impro01_F009.wav", "audio file missing"),
        ("iemocap_test_fold_1.jsonl:8", UNKNOWN_CODE),                    # emo 'xyz'
        ("iemocap_train_fold_1.jsonl:8", emobox.TRAIN_AND_TEST),          # Ses03F_impro01_M001
        ("iemocap_train_fold_1.jsonl:9", emobox.DUPLICATE_KEY),           # Ses02F_impro01_F000 again
    }, data.excluded_files
    assert any("Frustrated" in reason or "frustrated" in reason for reason in data.excluded)  # dropped, counted


def test_official_folds_test_each_session_once_and_validate_on_a_disjoint_speaker(emobox_dirs):
    data = _read(emobox_dirs)
    folds = protocols.make_folds(data)  # checks every fold for speaker leaks
    speakers = [protocols.speakers_of(fold, data.utterances) for fold in folds]
    assert [fold.name for fold in folds] == ["fold1", "fold2", "fold3"]
    assert [s["test"] for s in speakers] == [("Ses01F", "Ses01M"), ("Ses02F", "Ses02M"), ("Ses03F", "Ses03M")]
    assert [s["valid"] for s in speakers] == [("Ses02F",), ("Ses01M",), ("Ses02F",)]
    assert not any(fold.speaker_dependent for fold in folds)
    note = protocols.validation_note(emobox.OFFICIAL, [unit for fold in folds for unit in fold.units["train"]])
    assert "speaker-disjoint" in note and "UNKNOWN" not in note


def test_a_dataset_without_a_speaker_rule_gets_utterance_buckets_and_says_so(tmp_path):
    data = _read(fixtures.make_emobox(tmp_path, dataset="emodb", defects=False))
    assert all(utt.speaker.startswith(protocols.UNKNOWN_SPEAKER) and utt.gender is None for utt in data.utterances)
    folds = protocols.make_folds(data)
    assert len(folds) == 3
    units = {unit for fold in folds for part in protocols.PARTS for unit in fold.units[part]}
    assert "SPEAKERS UNKNOWN" in protocols.validation_note(emobox.OFFICIAL, units)


def test_a_missing_fold_file_is_a_layout_error(tmp_path):
    dirs = fixtures.make_emobox(tmp_path, defects=False)
    (dirs[0] / "fold_2" / "iemocap_test_fold_2.jsonl").unlink()
    with pytest.raises(emobox.CorpusLayoutError, match=r"fold_2: expected one <name>_test_fold_2.jsonl, found none"):
        _read(dirs)


def test_the_config_names_the_root_as_the_reader_reads_it(tmp_path):
    from tests.test_configs import load_config_module

    config = load_config_module("emobox").get_config(f"dataset={tmp_path / 'data'},root={tmp_path / 'audio'}")
    assert config.data.corpora[0]["root"] == emobox.root_of(tmp_path / "data", tmp_path / "audio")
