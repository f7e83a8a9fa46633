"""CLI: python -m speecheq_jax.corpora summarize --corpus NAME --root DIR [--protocol P] [--json OUT] [--strict].

Reads a corpus (labels unified, every audio file decoded and checked, no g2p:
the summary does not need phonemes), makes its folds from the usable files and
prints the summary tables, the excluded files named with their reasons; --json
also writes them as JSON. --strict makes any exclusion an error. Errors are one
line on stderr, exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from speecheq_jax import labels
from speecheq_jax.corpora import read_corpus, registry
from speecheq_jax.corpora.protocols import make_folds
from speecheq_jax.corpora.summary import render_text, summarize


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m speecheq_jax.corpora")
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("summarize", help="counts, label mapping, exclusions and folds of one corpus")
    cmd.add_argument("--corpus", required=True, choices=registry.names())
    cmd.add_argument("--root", required=True, help="corpus folder (manifest: the manifest file or its folder)")
    cmd.add_argument("--protocol", default=None, help="evaluation protocol (default: the corpus's first)")
    cmd.add_argument("--json", default=None, help="also write the summary to this JSON file")
    cmd.add_argument("--label-set", default=None, help="comma-separated categories, e.g. neutral,happy,angry,sad")
    cmd.add_argument("--strict", action="store_true", help="a file that would be excluded is an error instead")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    label_set = tuple(args.label_set.split(",")) if args.label_set else None
    try:
        data = read_corpus(args.corpus, args.root, labels.LabelOptions(label_set=label_set),
                           phonemize=False, strict=args.strict)
        summary = summarize(data, make_folds(data, args.protocol))
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(render_text(summary), end="")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
