"""The run's prepared datasets, opened once per process and configuration, and their records as assembler Rows.

`open_sources(config.data)` opens every configured corpus's prepared dataset,
picks its fold, asserts the fold speaker-disjoint (`check_fold`) and derives
the run's phoneme vocabulary and category label set. The result is cached by
the configuration's dataset-defining fields, so the DataSpec, the training
iterator and every validation share one set of open datasets; the ArrayRecord
readers of a corpus open on its first read.

Phoneme ids of all corpora are remapped onto ONE run vocabulary: the sorted
union of the datasets' vocabularies, ids 1..V, 0 the CTC blank. Category ids
are remapped the same way onto the run's label set (the classes the run's
corpora hold after the label options, in taxonomy order).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Sequence

import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from speecheq_jax import labels
from speecheq_jax.corpora import protocols, registry
from speecheq_jax.frames import WAVEFORM_ROUTE, FeatureLayout
from speecheq_jax.heads import head_specs
from speecheq_jax.heads.contract import RunTables
from speecheq_jax.input.assemble import Row
from speecheq_jax.prep.prepare import PreparedDataset, open_entry
from speecheq_jax.ssl.route import WAVEFORM_SCALE, layout_of
from speecheq_jax.utterance import Utterance

log = logging.getLogger(__name__)
_SOURCE_FIELDS = ("data_dir", "corpora", "label_options", "synth", "allow_speaker_dependent", "features", "ssl")
"""The `config.data` fields that decide which datasets and folds a run opens (the cache key)."""
_OPENED: dict[str, RunSources] = {}
_MAX_OPENED = 4


class CorpusSource:
    """One configured corpus: its prepared dataset, fold, CMVN, label remapping and checked record access."""

    def __init__(self, corpus_id: int, prepared: PreparedDataset, fold: dict, run_vocab: Sequence[str],
                 run_categories: Sequence[str], layout: FeatureLayout):
        self.corpus_id, self.prepared, self.fold, self.layout = corpus_id, prepared, fold, layout
        run_ids = {token: i + 1 for i, token in enumerate(run_vocab)}
        self.phoneme_table = np.array([0] + [run_ids[t] for t in prepared.vocab], dtype=np.int32)
        # Taxonomy id -> run label-set id (-1: a class this run does not have, masked).
        self.category_table = np.array([run_categories.index(c) if c in run_categories else labels.MISSING
                                        for c in labels.CATEGORIES], dtype=np.int32)
        # The SSL routes store no CMVN (prep/tfds_builder.py): states pass through unscaled, int16 waveforms
        # are scaled to [-1, 1).
        scale = WAVEFORM_SCALE if layout.route == WAVEFORM_ROUTE else 1.0
        cmvn = fold.get("cmvn", {"mean": 0.0, "std": scale})
        self.mean = np.asarray(cmvn["mean"], np.float32)
        self.std = np.asarray(cmvn["std"], np.float32)
        self._dropped: set[tuple[str, str, int]] = set()
        """(head, unit, record) whose label the run could not use (each logged once)."""

    @functools.cached_property
    def records(self) -> dict[str, Sequence[dict]]:
        """unit -> random-access records (ArrayRecord readers, opened on first use)."""
        return tfds.builder_from_directory(str(self.prepared.path)).as_data_source()

    def read(self, unit: str, index: int) -> dict:
        """One record, checked; a ValueError names the dataset, split and index if it is bad."""
        where = f"{self.prepared.path} split {unit!r} record {index}"
        try:
            record = self.records[unit][index]
        except Exception as e:  # noqa: BLE001: any decode failure means a corrupt record
            raise ValueError(f"corrupt record: {where}: {type(e).__name__}: {e}") from e
        expected = self.prepared.units[unit]["num_frames"][index]
        key = self.layout.route.key
        features = record[key]
        if features.shape != (expected, *self.layout.shape) or int(record["num_frames"]) != expected:
            raise ValueError(f"corrupt record: {where}: {key} {features.shape}, num_frames "
                             f"{record['num_frames']}, metadata says {expected} frames")
        return record

    def row(self, unit: str, index: int, position: int) -> Row:
        """The record as an assembler Row in run ids, every head's label through its spec's `to_run`.

        A label the run cannot use (e.g. a phoneme sequence CTC cannot align) is masked and logged once.
        """
        record = self.read(unit, index)
        tables = RunTables(category=self.category_table, phoneme=self.phoneme_table,
                           frames=int(record["num_frames"]), route=self.layout.route)
        values = {}
        for spec in head_specs():
            values[spec.label], dropped = spec.data.to_run(record[spec.label], tables)
            if dropped and (spec.name, unit, index) not in self._dropped:
                self._dropped.add((spec.name, unit, index))
                log.info("%s %s record %d: %s: %s label masked", self.prepared.corpus, unit, index, dropped, spec.name)
        return Row(features=record[self.layout.route.key], mean=self.mean, std=self.std, labels=values,
                   corpus_id=self.corpus_id, index=position)


@dataclasses.dataclass(frozen=True)
class RunSources:
    """The run's corpora in config order, with the vocabulary and label set they share.

    Attributes:
      corpora: one CorpusSource per `config.corpora` entry (its corpus id is its index).
      vocab: run phoneme vocabulary; token vocab[i] has id i + 1 (0 = blank).
      categories: the run's category label set (`labels.run_label_set`).
      layout: the feature route and per-frame shape every corpus of the run stores.
    """

    corpora: tuple[CorpusSource, ...]
    vocab: tuple[str, ...]
    categories: tuple[str, ...]
    layout: FeatureLayout

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.prepared.corpus for c in self.corpora)

    def units(self, split: str) -> list[dict[str, dict]]:
        """Per corpus id, the fold's units of `split` ("train" | "valid" | "test") -> their metadata, in fold order."""
        return [{unit: c.prepared.units[unit] for unit in c.fold["units"][split]} for c in self.corpora]


def open_sources(config: ml_collections.ConfigDict) -> RunSources:
    """The RunSources of `config.data`, opened at the first call for these datasets and folds, then shared."""
    key = json.dumps({k: config.to_dict()[k] for k in _SOURCE_FIELDS}, sort_keys=True, default=str)
    if key not in _OPENED:
        if len(_OPENED) >= _MAX_OPENED:
            del _OPENED[next(iter(_OPENED))]
        _OPENED[key] = _open(config)
    return _OPENED[key]


def _open(config: ml_collections.ConfigDict) -> RunSources:
    if not config.corpora:
        raise ValueError("config.data.corpora is empty: name at least one corpus")
    prepared, chosen = [], []
    for i, entry in enumerate(config.corpora):
        name = entry["name"]
        if name not in registry.names():
            raise ValueError(f"config.data.corpora[{i}].name={name!r} is not a known corpus; known: {registry.names()}")
        dataset = open_entry(config, entry)
        fold = dataset.fold(entry.get("protocol"), entry.get("fold"))
        check_fold(dataset, fold, allow_speaker_dependent=config.allow_speaker_dependent)
        prepared.append(dataset)
        chosen.append(fold)
    vocab = tuple(sorted({token for dataset in prepared for token in dataset.vocab}))
    categories = labels.run_label_set([dataset.labels["category_counts"] for dataset in prepared])
    layout = layout_of(config)
    return RunSources(tuple(CorpusSource(i, p, f, vocab, categories, layout)
                            for i, (p, f) in enumerate(zip(prepared, chosen))), vocab, tuple(categories), layout)


def check_fold(dataset: PreparedDataset, fold: dict, *, allow_speaker_dependent: bool = False) -> None:
    """Asserts, with `protocols.check_speaker_disjoint`, that a stored fold's train, valid and test share no speaker.

    Raises SpeakerLeakError naming the corpus and the speakers; a
    speaker-dependent protocol (ESD 'official') is refused unless
    `allow_speaker_dependent` is set. ValueError for an empty, unknown or shared unit.
    """
    by_group = registry.get(dataset.corpus).units_by_group
    checked = protocols.Fold(fold["name"], {part: tuple(units) for part, units in fold["units"].items()},
                         fold["speaker_dependent"], units_by_group=by_group)
    try:
        protocols.check_speaker_disjoint(checked, _unit_speakers(dataset, by_group),
                                     allow_speaker_dependent=allow_speaker_dependent)
    except ValueError as e:  # SpeakerLeakError included
        hint = " (config.data.allow_speaker_dependent)" if fold["speaker_dependent"] else ""
        raise type(e)(f"{dataset.corpus}: {e}{hint}") from None


def _unit_speakers(dataset: PreparedDataset, by_group: bool) -> list[Utterance]:
    """One stand-in Utterance per (unit, speaker) of the stored metadata, as `check_speaker_disjoint` takes them.

    The check reads only corpus, speaker and group (through `protocols.unit_of`,
    with the corpus spec's `units_by_group`); the group is what the unit adds
    after the speaker's own unit, so that `unit_of` gives each stand-in its
    stored unit back; a ValueError where it cannot (a unit holding another
    unit's speaker).
    """
    stand_ins = []
    for unit, meta in dataset.units.items():
        for speaker in sorted(set(meta["speaker"])):
            bare = Utterance(id=unit, audio_path="", corpus=dataset.corpus, speaker=speaker, gender=None, lang="",
                             text=None, phonemes=None, category=None, intensity=None, native_label="", group="")
            group = unit.removeprefix(protocols.unit_of(bare) + "_") if unit != protocols.unit_of(bare) else ""
            stand_in = dataclasses.replace(bare, group=group)
            if protocols.unit_of(stand_in, by_group) != unit:
                raise ValueError(f"stored unit {unit!r} holds speaker {speaker!r} of unit "
                                 f"{protocols.unit_of(stand_in, by_group)!r}: the dataset's metadata is inconsistent")
            stand_ins.append(stand_in)
    return stand_ins
