"""The one TFDS builder every corpus shares: Utterances -> log-mel ArrayRecord splits.

`builder_class(spec)` makes a corpus's builder from its `CorpusSpec` (named
after the corpus, so its datasets live in `<data_dir>/<corpus>/`); the spec
says how to read the corpus and whether it is generated first. Here:

* the corpus reader (`spec.read`) maps labels into the unified space
  under the config's `LabelOptions` and checks every audio file
  (`features.audio_file`); the applied mapping, exclusions (counts by reason, and each
  excluded file with its reason) and per-category counts are printed and
  stored in the metadata. The folds are made from the usable files only (TFDS
  refuses an empty split, so unusable audio is found before the splits are
  defined, not while they are written). `strict=True` makes any exclusion an
  error;
* every utterance is stored once, in the TFDS split of its unit (a sanitised
  speaker id, `corpora.protocols.unit_of`); folds are lists of units, stored for
  every protocol of the corpus, so a fold's train set is a union of splits;
* records follow the Example schema (docs/ARCHITECTURE.md, "Contracts"), written
  in generation order (`disable_shuffling`), so the per-split lengths stored in
  the metadata line up with record indices; the pipeline shuffles;
* CMVN sums are kept per unit and merged into per-fold statistics from each
  fold's train units only;
* on the SSL route (`ssl.route`) a record holds the encoder's kept hidden
  states (`ssl_states` [T, K, D] at 50 Hz, float16 or float32) instead of the
  log-mel, computed AUDIO_CHUNK utterances at a time in padded batches (the
  encoders are padding-exact, ssl/encoder.py; memory bounded by the chunk). No CMVN: the model's SSL
  front end normalises each frame of each layer itself (model/ssl_frontend.py),
  so prediction from raw audio needs no corpus statistics;
* on the fine-tuning route (`ssl.finetune` other than "frozen") a record holds the 16 kHz waveform itself
  (`waveform` [N] int16, `num_frames` = N samples): the encoder trains inside the model, so nothing of it is
  stored, and one waveform dataset serves every encoder and switch.

Label options, the raw-data root, the synth parameters and (SSL route only)
the features' identity (encoder weights hash, layers, dtype) change the
records, so they are hashed into the BuilderConfig name: each combination is
its own dataset directory `<data_dir>/<corpus>/<config>/<version>`, and a
corpus's log-mel and SSL datasets live side by side.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import inspect
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from speecheq_jax import labels
from speecheq_jax.corpora import protocols as corpus_folds
from speecheq_jax.corpora.corpus_data import CorpusData, ReadOptions
from speecheq_jax.corpora.corpus_spec import CorpusSpec
from speecheq_jax.errors import DataError
from speecheq_jax.features import logmel
from speecheq_jax.frames import LOGMEL, FeatureLayout
from speecheq_jax.heads import HEAD_NAMES, head_specs
from speecheq_jax.ssl.route import WAVEFORM_DTYPE, WAVEFORM_SCALE, SSLFeatures
from speecheq_jax.utterance import Utterance

VERSION = tfds.core.Version("1.0.0")
AUDIO_CHUNK = 32
"""Utterances read and featurised per `log_mel_many` call while writing a split."""

UNIT_TABLE_KEYS = ("id", "speaker", "lang", "native_label", "num_frames", "num_phonemes")
"""Per-record columns stored in the metadata per unit, in record order (lengths for bucketing, ids for reports)."""

_BYTES = tfds.features.Encoding.BYTES
def example_features(layout: FeatureLayout = LOGMEL, dtype: str = "float16") -> tfds.features.FeaturesDict:
    """The stored example: the utterance's ids and features (log-mel, or SSL states), then each head's label.

    A head's label is stored under its `HeadSpec.label` key, a scalar or a variable-length int32
    sequence as its `LabelPath` says, so a new head's label is prepared without a change here.
    """
    features = {
        "id": tfds.features.Text(),
        "corpus": tfds.features.Text(),
        "speaker": tfds.features.Text(),
        "lang": tfds.features.Text(),
        "native_label": tfds.features.Text(),
        layout.route.key: tfds.features.Tensor(shape=(None, *layout.shape), dtype=np.dtype(dtype), encoding=_BYTES),
        "num_frames": tfds.features.Scalar(dtype=np.int32),
    }
    for spec in head_specs():
        features[spec.label] = (tfds.features.Tensor(shape=(None,), dtype=np.int32, encoding=_BYTES)
                                if spec.data.sequence else tfds.features.Scalar(dtype=spec.data.dtype))
    return tfds.features.FeaturesDict(features)


class CorpusConfig(tfds.core.BuilderConfig):
    """What a preparation depends on; its name is a hash of those values.

    Attributes (kept in `params`, printed in the description):
      root: absolute raw-data directory, or None to use TFDS's `manual_dir`
        (a corpus the user gives) / a directory under the download dir (a
        corpus that generates itself).
      label_options: `LabelOptions` fields as a plain dict (the fields the
        corpus does not read at their defaults: `prepare.make_builder`).
      synth: generation parameters of a corpus that generates itself (for
        SEQD-synth: num, seed, langs), defaults filled in, else None.
      extra_labels: the stored label keys of heads registered beyond the built-in
        four (absent when there are none, so the built-in datasets keep their names).
      features: on the SSL route, `SSLFeatures.identity` (absent on log-mel, whose names stay as they were).
    """

    def __init__(self, *, root: str | None = None, label_options: labels.LabelOptions = labels.LabelOptions(),
                 synth: dict | None = None, features: dict | None = None):
        self.params = {
            "root": root,
            "label_options": label_options.as_dict(),
            "synth": synth,
        }
        # A head registered beyond the built-in four stores one more label: its own dataset.
        extra = [spec.label for spec in head_specs() if spec.name not in HEAD_NAMES]
        if extra:
            self.params["extra_labels"] = extra
        if features is not None:
            self.params["features"] = {"route": "ssl", **features}  # the waveform route's identity names its own
        digest = hashlib.sha1(json.dumps(self.params, sort_keys=True).encode()).hexdigest()[:12]
        super().__init__(name=f"c{digest}", version=VERSION, description=json.dumps(self.params, sort_keys=True))

    @property
    def label_options(self) -> labels.LabelOptions:
        return labels.LabelOptions.from_mapping(self.params["label_options"])


class CorpusBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Shared builder; `builder_class` makes one subclass per corpus, with its `SPEC`.

    `strict` is not part of the config (a strict preparation that succeeds
    writes exactly what a lenient one would): it only turns an exclusion into
    an error. `ssl` is the SSL route whose identity the config carries (where
    its checkpoint is read from is not part of the dataset's identity).
    """

    SPEC: ClassVar[CorpusSpec]
    VERSION = VERSION
    BUILDER_CONFIG_CLASS = CorpusConfig
    BUILDER_CONFIGS = [CorpusConfig()]
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Pass the corpus directory as --root (prepare) or --manual_dir (tfds build)."

    def __init__(self, *, strict: bool = False, ssl: SSLFeatures | None = None, **kwargs):
        self.strict, self.ssl = strict, ssl
        super().__init__(**kwargs)

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        """This builder's source file.

        TFDS's own lookup needs the optional `importlib_resources` package for
        builders inside a package; the file is all it wants (checksums next to it).
        """
        return epath.Path(inspect.getfile(cls))

    def _info(self) -> tfds.core.DatasetInfo:
        if self.ssl is None:
            what, features = "log-mel (80 bins, 10 ms)", example_features()
        elif self.ssl.fine_tuned:
            what, features = "16 kHz waveforms", example_features(self.ssl.layout, WAVEFORM_DTYPE)
        else:
            what = f"SSL hidden states {list(self.ssl.layers)} of encoder sha256 {self.ssl.weights_sha256[:12]} (20 ms)"
            features = example_features(self.ssl.layout, self.ssl.dtype)
        return tfds.core.DatasetInfo(
            builder=self,
            description=f"{self.SPEC.name} as {what} with unified SpeechEQ labels.",
            features=features,
            metadata=tfds.core.MetadataDict(),
            disable_shuffling=True,
        )

    def raw_root(self, dl_manager: tfds.download.DownloadManager) -> Path:
        """Directory the corpus reader reads: the config's root, else `manual_dir`.

        A corpus that generates itself is first written there (idempotent),
        by default under the download dir, one directory per config.
        """
        params = self.builder_config.params
        if self.SPEC.needs_root:
            return Path(params["root"]) if params["root"] is not None else Path(dl_manager.manual_dir)
        root = Path(params["root"] or Path(dl_manager.download_dir) / self.SPEC.name / self.builder_config.name)
        self.SPEC.generate(root, params["synth"] or {})
        return root

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Iterator]:
        options = self.builder_config.label_options
        root = self.raw_root(dl_manager)
        data = self.SPEC.read(root, ReadOptions(labels=options, strict=self.strict))
        if not data.utterances:
            raise DataError(f"{self.SPEC.name}: no usable utterance under {root}; excluded: {data.excluded}")
        by_unit: dict[str, list[Utterance]] = collections.defaultdict(list)
        for utt in data.utterances:
            by_unit[corpus_folds.unit_of(utt, self.SPEC.units_by_group)].append(utt)
        vocab = sorted({p for utt in data.utterances for p in (utt.phonemes or ())})
        summary = _label_summary(data)
        print(_format_summary(self.SPEC.name, self.builder_config.name, summary))
        self.info.metadata.update({
            "corpus": self.SPEC.name,
            "params": self.builder_config.params,
            "vocab": vocab,
            "protocols": _folds_by_protocol(data),
            "labels": summary,
            "units": {},
        })
        phoneme_ids = {p: i + 1 for i, p in enumerate(vocab)}
        return {unit: self._generate_examples(unit, utts, phoneme_ids) for unit, utts in sorted(by_unit.items())}

    def _generate_examples(self, unit: str, utterances: Sequence[Utterance],
                           phoneme_ids: dict[str, int]) -> Iterator[tuple[int, dict]]:
        """Yields (index, Example) in order and records the unit's table (and, for log-mel, its CMVN sums)."""
        stats = logmel.MelStats() if self.ssl is None else None
        rows: list[dict] = []
        for index, (example, values) in enumerate(self._featurized(utterances, phoneme_ids)):
            if stats is not None:
                stats.add(values)
            rows.append(table_row(example))
            yield index, example
        self.info.metadata["units"][unit] = unit_entry(rows, stats)

    def _featurized(self, utterances: Sequence[Utterance],
                    phoneme_ids: dict[str, int]) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
        """(Example, features) per utterance in order: float32 log-mel [T, 80] or the stored SSL states."""
        if self.ssl is None:
            for start in range(0, len(utterances), AUDIO_CHUNK):
                yield from featurize_chunk(utterances[start : start + AUDIO_CHUNK], phoneme_ids)
            return
        key = self.ssl.layout.route.key
        if self.ssl.fine_tuned:
            for utt in utterances:
                samples = logmel.read_audio(utt.audio_path)
                yield _example(utt, key, waveform_int16(samples), phoneme_ids), samples
            return
        for utt, states in zip(utterances, self._ssl_states(utterances)):
            yield _example(utt, key, states, phoneme_ids), states

    @functools.cached_property
    def _extractor(self):  # noqa: ANN202 (ssl.extract.Extractor, imported only here)
        """The encoder, loaded once per preparation."""
        from speecheq_jax.ssl.extract import Extractor  # here: a log-mel preparation never loads the encoder

        return Extractor(self.ssl.checkpoint)

    def _ssl_states(self, utterances: Sequence[Utterance]) -> Iterator[np.ndarray]:
        """[T, K, D] in the stored dtype per utterance: the kept hidden states, AUDIO_CHUNK utterances at a time in
        padded batches (`ssl.extract.plan_batches`; each row equals its utterance run alone)."""
        from speecheq_jax.ssl.extract import DEFAULT_BATCH_SECONDS, plan_batches

        for start in range(0, len(utterances), AUDIO_CHUNK):
            waveforms = [self._extractor.waveform(Path(u.audio_path)) for u in utterances[start : start + AUDIO_CHUNK]]
            states: dict[int, np.ndarray] = {}
            for length, indices in plan_batches([len(w) for w in waveforms], DEFAULT_BATCH_SECONDS):
                outputs = self._extractor.hidden_states([waveforms[i] for i in indices], length)
                states.update(zip(indices, outputs))
            for index in range(len(waveforms)):
                kept = states[index][list(self.ssl.layers)]  # [K, T, D]
                yield np.ascontiguousarray(kept.transpose(1, 0, 2)).astype(self.ssl.dtype)

    def _download_and_prepare(self, dl_manager, download_config) -> None:  # noqa: ANN001 (TFDS signature)
        super()._download_and_prepare(dl_manager=dl_manager, download_config=download_config)
        if self.ssl is not None:
            return
        units = self.info.metadata["units"]
        for folds in self.info.metadata["protocols"].values():
            for fold in folds:
                stats = logmel.MelStats()
                for unit in fold["units"]["train"]:
                    stats = stats.merge(logmel.MelStats.from_dict(units[unit]["cmvn"]))
                mean, std = stats.mean_std()
                fold["cmvn"] = {"mean": mean.tolist(), "std": std.tolist()}


@functools.cache
def builder_class(spec: CorpusSpec) -> type[CorpusBuilder]:
    """The builder of one corpus: a `CorpusBuilder` subclass named `spec.name`.

    TFDS places a builder's datasets under `<data_dir>/<name>/`, so the name
    is the corpus's. The class stays out of TFDS's global registry (whose
    `tfds build` command needs TensorFlow, never installed here), so a corpus
    registered at run time never collides with it. One class per spec (cached).
    """
    class_name = "".join(part.title() for part in spec.name.split("_"))
    namespace = {"name": spec.name, "SPEC": spec, "__doc__": f"{spec.title} log-mel dataset; {spec.layout}."}
    return type(class_name, (CorpusBuilder,), namespace, skip_registration=True)


def featurize_chunk(chunk: Sequence[Utterance], phoneme_ids: dict[str, int]) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """Each utterance's Example and its float32 log-mel [T, 80] (for the CMVN sums), one `log_mel_many` call.

    The featurisation of both preparation paths: this builder's and the Beam one (`prep/beam_prepare.py`).
    """
    mels = logmel.log_mel_many([logmel.read_audio(u.audio_path) for u in chunk])
    for utt, mel in zip(chunk, mels):
        yield _example(utt, "logmel", mel.astype(np.float16), phoneme_ids), mel


def waveform_int16(samples: np.ndarray) -> np.ndarray:
    """float32 [N] in [-1, 1] -> int16 [N] (x 32768, rounded, clipped): the fine-tuning route's stored waveform."""
    return np.clip(np.round(samples * WAVEFORM_SCALE), -WAVEFORM_SCALE, WAVEFORM_SCALE - 1).astype(np.int16)


def table_row(example: dict[str, Any]) -> dict[str, Any]:
    """One record's `UNIT_TABLE_KEYS` columns."""
    return {**{key: example[key] for key in UNIT_TABLE_KEYS if key != "num_phonemes"},
            "num_phonemes": len(example["phonemes"])}


def unit_entry(rows: Sequence[dict[str, Any]], stats: logmel.MelStats | None) -> dict[str, Any]:
    """A unit's metadata: its table (`UNIT_TABLE_KEYS` -> [N], record order) and, for log-mel, its CMVN sums."""
    table = {key: [row[key] for row in rows] for key in UNIT_TABLE_KEYS}
    return table if stats is None else {**table, "cmvn": stats.to_dict()}


def _example(utt: Utterance, key: str, features: np.ndarray, phoneme_ids: dict[str, int]) -> dict[str, Any]:
    """The Example of `utt` with `features` [T, ...] (already in the stored dtype) under `key`."""
    return {
        "id": utt.id,
        "corpus": utt.corpus,
        "speaker": utt.speaker,
        "lang": utt.lang,
        "native_label": utt.native_label,
        key: features,
        "num_frames": int(features.shape[0]),
        **{spec.label: spec.data.from_utterance(utt, phoneme_ids) for spec in head_specs()},
    }


def _folds_by_protocol(data: CorpusData) -> dict[str, list[dict]]:
    """protocol -> [{name, units: {train, valid, test}, speaker_dependent}] (make_folds checks each)."""
    out = {}
    for protocol in corpus_folds.available_protocols(data):
        folds = corpus_folds.make_folds(data, protocol)
        out[protocol] = [
            {"name": f.name, "units": {k: list(v) for k, v in f.units.items()}, "speaker_dependent": f.speaker_dependent}
            for f in folds
        ]
    return out


def _label_summary(data: CorpusData) -> dict[str, Any]:
    counts = collections.Counter(u.category or "(masked)" for u in data.utterances)
    return {
        "category_counts": dict(sorted(counts.items())),
        "mapping": dict(data.mapping),
        "excluded": dict(sorted(data.excluded.items())),
        "excluded_files": [exclusion.to_dict() for exclusion in data.excluded_files],
        "num_utterances": len(data.utterances),
    }


def _format_summary(corpus: str, config: str, summary: dict[str, Any]) -> str:
    lines = [f"[prepare] {corpus}/{config}: {summary['num_utterances']} utterances kept"]
    lines += [f"  mapping   {code} -> {target}" for code, target in summary["mapping"].items()]
    lines += [f"  excluded  {reason}: {n}" for reason, n in summary["excluded"].items()]
    lines += [f"  excluded  file {e['file']}: {e['reason']}" + (f" ({e['detail']})" if e["detail"] else "")
              for e in summary["excluded_files"]]
    lines += [f"  category  {name}: {n}" for name, n in summary["category_counts"].items()]
    return "\n".join(lines)
