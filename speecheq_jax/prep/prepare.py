"""Prepare (once) and open precomputed log-mel datasets: Python API and command line.

    python -m speecheq_jax.prep.prepare --corpus casia --root /data/CASIA --data_dir ~/speecheq_data
    python -m speecheq_jax.prep.prepare --corpus seqd_synth --data_dir D --synth '{"num": 2000}'
    python -m speecheq_jax.prep.prepare --corpus iemocap --root R --data_dir D \
        --label_options '{"label_set": ["neutral", "happy", "angry", "sad"]}'
    python -m speecheq_jax.prep.prepare --corpus casia --root R --data_dir D --ssl '{"checkpoint": "wavlm-base-plus"}'

`--ssl` (`config.data.ssl` as JSON: checkpoint, layers, dtype) prepares the SSL route's dataset
(ssl/route.py) beside the corpus's log-mel one.

TFDS writes into `incomplete.*` and renames on success, so an interrupted run
leaves nothing that `open_prepared` takes for complete; preparing an existing
dataset returns at once.

Bad inputs are one-line `DataError`s (the CLI prints them and exits 1): a root
that does not exist or holds no corpus (the reader names the corpus, the path
and the expected layout), a data_dir that cannot be written (checked before
anything is read), a disk that fills up while writing (TFDS removes its
`incomplete.*` directory; run again once there is space). Files the corpus
reader cannot use are excluded and listed; `--strict` makes them errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import ml_collections
import tensorflow_datasets as tfds

from speecheq_jax import labels, storage
from speecheq_jax.corpora import registry
from speecheq_jax.errors import DataError, Exclusion
from speecheq_jax.prep.quiet_tfds import one_bar
from speecheq_jax.prep.tfds_builder import CorpusBuilder, CorpusConfig, builder_class
from speecheq_jax.ssl.route import SSLFeatures, ssl_features

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class NotPreparedError(FileNotFoundError):
    """The dataset a config asks for has not been prepared; the message says how."""


@dataclasses.dataclass(frozen=True)
class PreparedDataset:
    """Handle on a prepared dataset: where it is and what its metadata says.

    Attributes:
      corpus: corpus name (`corpora.registry`).
      config: BuilderConfig name (hash of label options, root, synth params).
      path: the dataset directory `<data_dir>/<corpus>/<config>/<version>`.
      folds: protocol -> [{name, units: {train, valid, test}, speaker_dependent, cmvn}].
      vocab: the corpus's phoneme tokens; record id i + 1 is vocab[i], 0 is blank.
      split_sizes: unit (TFDS split) -> number of records.
      units: unit -> {num_frames: [N], num_phonemes: [N], cmvn sums}, in record order.
      labels: category counts, applied mapping and exclusions at preparation
        (`excluded`: reason -> count; `excluded_files`: [{file, reason, detail}]).
    """

    corpus: str
    config: str
    path: Path
    folds: dict[str, list[dict]]
    vocab: tuple[str, ...]
    split_sizes: dict[str, int]
    units: dict[str, dict]
    labels: dict

    @property
    def excluded_files(self) -> tuple[Exclusion, ...]:
        """Each file the preparation left out, with its reason (none for datasets prepared before this was kept)."""
        return tuple(Exclusion(**e) for e in self.labels.get("excluded_files", ()))

    def fold(self, protocol: str | None, name: str | None) -> dict:
        """A fold by protocol (None = the corpus's first) and name (None = first)."""
        protocol = protocol or next(iter(self.folds))
        if protocol not in self.folds:
            raise KeyError(f"{self.corpus}: unknown protocol {protocol!r}; prepared: {sorted(self.folds)}")
        folds = self.folds[protocol]
        if name is None:
            return folds[0]
        for fold in folds:
            if fold["name"] == name:
                return fold
        raise KeyError(f"{self.corpus}/{protocol}: unknown fold {name!r}; known: {[f['name'] for f in folds]}")


def make_builder(corpus: str, data_dir: str | Path, root: str | Path | None = None,
                 label_options: labels.LabelOptions | Mapping | None = None,
                 synth: Mapping | None = None, strict: bool = False, ssl: SSLFeatures | None = None,
                 builder_cls: type[CorpusBuilder] | None = None) -> CorpusBuilder:
    """The builder (not yet prepared) for one corpus and one set of options (`strict`, `ssl`: see CorpusBuilder).

    `builder_cls` replaces the corpus's `builder_class` (the Beam path, `prep/beam_prepare.py`, passes its subclass).

    `synth` overrides the generation parameters of a corpus that generates itself; for the others it
    is ignored. The dataset's identity (the BuilderConfig name) hashes only the label options this
    corpus reads (`CorpusSpec.label_option_names`) and, for a generated corpus, its parameters with
    their defaults filled in: changing IEMOCAP's arousal option leaves CASIA's dataset as it is.
    """
    spec = registry.get(corpus)
    if not isinstance(label_options, labels.LabelOptions):
        label_options = labels.LabelOptions.from_mapping(label_options)
    config = CorpusConfig(
        root=None if root is None else str(Path(root).expanduser().resolve()),
        label_options=spec.resolve_label_options(label_options),
        synth=None if spec.needs_root else spec.generate_parameters(synth),
        features=None if ssl is None else ssl.identity,
    )
    builder_cls = builder_cls or builder_class(spec)
    # TFDS refuses a config object equal to a predefined one: name it instead.
    predefined = {c.name for c in builder_cls.BUILDER_CONFIGS}
    return builder_cls(data_dir=str(storage.as_path(data_dir)), file_format="array_record",
                       config=config.name if config.name in predefined else config, strict=strict, ssl=ssl)


def prepare(corpus: str, data_dir: str | Path, root: str | Path | None = None,
            label_options: labels.LabelOptions | Mapping | None = None,
            synth: Mapping | None = None, progress: bool = True, strict: bool = False,
            ssl: SSLFeatures | None = None, builder_cls: type[CorpusBuilder] | None = None,
            download_config: tfds.download.DownloadConfig | None = None) -> PreparedDataset:
    """Builds the dataset unless it already exists, then opens it.

    `builder_cls` and `download_config` (its Beam options) are the Beam path's (`prep/beam_prepare.py`).

    `synth` (for SEQD-synth: num, seed, langs) only applies to a corpus that
    generates itself; the others need `root`, the user's copy of the corpus. `strict`: a file the reader would
    exclude is an error, and so is an existing dataset that excluded files. `ssl`: store the SSL route's
    states instead of log-mels (a dataset of its own, beside the log-mel one).

    Raises:
      DataError: one line for a missing root, an unwritable data_dir, a full
        disk, a corpus with no usable file, or (strict) an excluded file.
    """
    builder = make_builder(corpus, data_dir, root, label_options, synth, strict, ssl, builder_cls)
    if registry.get(corpus).needs_root and root is None:
        raise DataError(f"{corpus}: pass root=, the directory of your copy of the corpus")
    name = f"{corpus}/{builder.builder_config.name}"
    print(f"[prepare] {name}: {builder.builder_config.description}")
    start = time.perf_counter()
    if not builder.data_path.exists():
        if storage.is_remote(data_dir):
            raise DataError(_remote_refusal(corpus, data_dir, root, label_options, synth, ssl))
        _check_writable(Path(data_dir).expanduser())
        try:
            with one_bar(builder, f"prepare {corpus}", progress):
                builder.download_and_prepare(file_format="array_record", download_config=download_config)
        except OSError as e:
            full = _disk_full(e)
            if full is None:
                raise
            raise DataError(f"disk full while preparing {corpus} in {data_dir} (writing {full.filename or 'a shard'}); "
                            "nothing was kept: free space and run the same command again") from e
    prepared = _open(builder)
    if strict and prepared.excluded_files:
        raise DataError(f"{prepared.path} was prepared with {len(prepared.excluded_files)} excluded file(s), e.g. "
                        f"{prepared.excluded_files[0].describe()}; strict mode refuses it: fix the files and prepare "
                        "into another data_dir, or turn strict off")
    print(f"[prepare] {name}: {sum(prepared.split_sizes.values())} examples in {len(prepared.split_sizes)} units, "
          f"ready in {time.perf_counter() - start:.1f} s")
    return prepared


def _disk_full(error: BaseException | None) -> OSError | None:
    """The ENOSPC/EDQUOT OSError in `error`'s chain (TFDS re-raises writer errors without their errno), or None."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in _DISK_FULL:
            return error
        error = error.__cause__ or error.__context__
    return None


def _remote_refusal(corpus: str, data_dir: str | Path, root: str | Path | None,
                    label_options: labels.LabelOptions | Mapping | None, synth: Mapping | None,
                    ssl: SSLFeatures | None) -> str:
    """Why a dataset is not prepared straight into a bucket, and the two commands that do it instead.

    TFDS writes ArrayRecord files with array-record's writer, which writes local files only
    (array-record 0.8.6 reads gs:// but cannot write it, google/array_record#120).
    """
    local = "/tmp/speecheq_data"
    command = prepare_command(corpus, local, root, label_options, synth, ssl)
    return (f"dataset {corpus} is not prepared in {data_dir}, and array-record cannot write to a bucket: prepare it "
            f"locally, then copy it: {command} && gcloud storage cp -r {local}/{corpus} {str(data_dir).rstrip('/')}/")


def _check_writable(data_dir: Path) -> None:
    """DataError unless `data_dir` is (or can be made) a directory we can write in."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as e:
        raise DataError(f"data_dir {data_dir} cannot be written ({e.strerror or e}); "
                        "pass a writable directory (--data_dir, config.data.data_dir)") from e


def entry_options(config: ml_collections.ConfigDict, entry: Mapping) -> tuple[labels.LabelOptions, dict]:
    """The label options and generation parameters of one `config.data.corpora` entry.

    The entry's own `label_options` (e.g. `{"iemocap_arousal": True}` on IEMOCAP's entry) override
    the run's `config.data.label_options` for that corpus alone; the corpus's spec validates them:
    an option it does not read (`CorpusSpec.label_option_names`) is a ValueError naming it.
    """
    spec = registry.get(entry["name"])
    run_wide = labels.LabelOptions.from_mapping(config.label_options)
    known = {name for other in config.corpora for name in registry.get(other["name"]).label_option_names()}
    unknown = sorted(set(dict(run_wide.corpus)) - known)
    if unknown:
        raise ValueError(f"config.data.label_options {unknown} apply to none of the run's corpora; they read "
                         f"{sorted(known)}")
    own = labels.LabelOptions.from_mapping(entry.get("label_options"))
    try:
        spec.resolve_label_options(own, strict=True)
    except ValueError as e:
        raise ValueError(f"config.data.corpora entry {spec.name!r}: {e}") from None
    options = labels.LabelOptions.from_mapping({**dict(config.label_options), **dict(entry.get("label_options") or {})})
    return spec.resolve_label_options(options), dict(config.synth)


def prepare_entry(config: ml_collections.ConfigDict, entry: Mapping, progress: bool = True) -> PreparedDataset:
    """`prepare` for one `config.data.corpora` entry (`config.strict` as in `prepare`)."""
    options, synth = entry_options(config, entry)
    return prepare(entry["name"], config.data_dir, entry.get("root"), options, synth, progress=progress,
                   strict=config.strict, ssl=ssl_features(config))


def open_entry(config: ml_collections.ConfigDict, entry: Mapping) -> PreparedDataset:
    """`open_prepared` for one `config.data.corpora` entry."""
    options, synth = entry_options(config, entry)
    return open_prepared(entry["name"], config.data_dir, entry.get("root"), options, synth, ssl_features(config))


def prepare_all(config: ml_collections.ConfigDict, progress: bool = True) -> list[PreparedDataset]:
    """Prepares every corpus of `config.data` (a no-op for those already prepared)."""
    return [prepare_entry(config, entry, progress) for entry in config.corpora]


def open_prepared(corpus: str, data_dir: str | Path, root: str | Path | None = None,
                  label_options: labels.LabelOptions | Mapping | None = None,
                  synth: Mapping | None = None, ssl: SSLFeatures | None = None) -> PreparedDataset:
    """Opens a prepared dataset; NotPreparedError with the command to prepare it otherwise."""
    builder = make_builder(corpus, data_dir, root, label_options, synth, ssl=ssl)
    if not builder.data_path.exists():
        raise NotPreparedError(
            f"dataset {corpus}/{builder.builder_config.name} is not prepared in {data_dir} "
            f"({builder.builder_config.description}). Prepare it with:\n  "
            + prepare_command(corpus, data_dir, root, label_options, synth, ssl)
        )
    return _open(builder)


def prepare_command(corpus: str, data_dir: str | Path, root: str | Path | None,
                    label_options: labels.LabelOptions | Mapping | None, synth: Mapping | None,
                    ssl: SSLFeatures | None = None) -> str:
    """The exact shell command that prepares this dataset."""
    args = ["python", "-m", "speecheq_jax.prep.prepare", "--corpus", corpus, "--data_dir", str(data_dir)]
    if root is not None:
        args += ["--root", str(root)]
    options = make_builder(corpus, data_dir, root, label_options, synth).builder_config.params
    if options["label_options"] != CorpusConfig().params["label_options"]:
        args += ["--label_options", json.dumps(options["label_options"], sort_keys=True)]
    if options["synth"] is not None:
        args += ["--synth", json.dumps(options["synth"], sort_keys=True)]
    if ssl is not None:
        args += ["--ssl", json.dumps({"checkpoint": str(ssl.checkpoint), "layers": list(ssl.layers),
                                      "dtype": ssl.dtype}, sort_keys=True)]
    return shlex.join(args)


def _open(builder: CorpusBuilder) -> PreparedDataset:
    info = tfds.builder_from_directory(str(builder.data_path)).info
    meta = info.metadata
    return PreparedDataset(
        corpus=meta["corpus"],
        config=builder.builder_config.name,
        path=Path(str(builder.data_path)),
        folds=meta["protocols"],
        vocab=tuple(meta["vocab"]),
        split_sizes={name: split.num_examples for name, split in info.splits.items()},
        units=meta["units"],
        labels=meta["labels"],
    )


def arg_parser(description: str | None = __doc__) -> argparse.ArgumentParser:
    """The command line of a preparation (this module's, and the Beam path's before its Beam options)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, choices=registry.names())
    parser.add_argument("--data_dir", required=True, help="where prepared datasets live")
    parser.add_argument("--root", help="the raw corpus directory (a generated corpus: where to write it)")
    parser.add_argument("--label_options", type=json.loads, default=None, help="JSON dict of labels.LabelOptions")
    parser.add_argument("--synth", type=json.loads, default=None, help='JSON dict, e.g. {"num": 1000, "seed": 0}')
    parser.add_argument("--ssl", type=json.loads, default=None,
                        help='JSON dict of config.data.ssl, e.g. {"checkpoint": "DIR", "layers": [6, 12]}')
    parser.add_argument("--no_progress", action="store_true")
    parser.add_argument("--strict", action="store_true", help="a file that would be excluded is an error instead")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = arg_parser().parse_args(argv)
    try:
        ssl = None if args.ssl is None else ssl_features({"features": "ssl", "ssl": args.ssl})
        prepared = prepare(args.corpus, args.data_dir, args.root, args.label_options, args.synth,
                           progress=not args.no_progress, strict=args.strict, ssl=ssl)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    report(prepared)
    return 0


def report(prepared: PreparedDataset) -> None:
    """The lines a preparation command prints once its dataset is ready."""
    print(f"[prepare] ready: {prepared.path}")
    for unit, size in sorted(prepared.split_sizes.items()):
        print(f"  unit {unit}: {size} records")
    if prepared.excluded_files:
        print(f"  excluded {len(prepared.excluded_files)} file(s): {prepared.labels['excluded']}")


if __name__ == "__main__":
    sys.exit(main())
