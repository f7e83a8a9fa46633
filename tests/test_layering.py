"""The package's layering, read from the source with `ast` (lazy imports inside functions count too).

`jobs` joins training and evaluation, so `train` and `eval` never import each other nor `jobs`;
`model` imports none of them nor the data parts; the corpus readers (`corpora`) know nothing of
preparation, the input pipeline or the model; the generator (`synth`) and the feature code
(`features`) know no reader. No two parts of the package import each other, directly or around a
cycle. A config file loads without JAX, Flax, TensorFlow, TFDS or Grain, and without any corpus
reader or the generator.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).parents[1]
PACKAGE = "speecheq_jax"
FORBIDDEN = {
    "train": {"eval", "jobs"},
    "eval": {"train", "jobs"},
    "model": {"train", "eval", "jobs", "input", "prep", "corpora", "synth"},
    "corpora": {"prep", "input", "model", "train", "eval", "jobs"},
    "synth": {"corpora", "prep", "input", "model", "train", "eval", "jobs"},
    "features": {"corpora", "synth", "prep", "input", "model", "train", "eval", "jobs"},
}
HEAVY = ("jax", "flax", "tensorflow", "tensorflow_datasets", "grain", "speecheq_jax.synth")
"""Never imported by loading a config, nor is any corpus reader (`corpora.registry.MODULES`)."""


def _part(module: str) -> str | None:
    """'speecheq_jax.train.step' -> 'train'; 'speecheq_jax.labels' -> 'labels'; outside the package -> None."""
    names = module.split(".")
    return names[1] if names[0] == PACKAGE and len(names) > 1 else None


def _imported_modules(source: str, module: str) -> Iterator[str]:
    """Absolute names of the modules (or module attributes) a file imports; `module` is its own name."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join(parent + ([base] if base else []))
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _package_files() -> Iterator[tuple[str, str, Path]]:
    """(part, dotted file name, path) of every module of the package but its root `__init__`.

    A package's `__init__.py` keeps `__init__` in its name, so `from . import x` in it resolves
    like it does in any other module of that package.
    """
    for path in sorted((REPO / PACKAGE).rglob("*.py")):
        names = path.relative_to(REPO).with_suffix("").parts
        if len(names) > 2 or names[-1] != "__init__":
            yield names[1], ".".join(names), path


def _edges() -> dict[str, dict[str, list[str]]]:
    """part -> imported part -> the importing modules."""
    graph: dict[str, dict[str, list[str]]] = {}
    for part, module, path in _package_files():
        for imported in _imported_modules(path.read_text(), module):
            target = _part(imported)
            if target is not None and target != part:
                graph.setdefault(part, {}).setdefault(target, []).append(module)
    return graph


def _cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One import cycle between parts (its parts in order, the first repeated at the end), or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        for target in graph.get(node, {}):
            found = visit(target, path + [node])
            if found:
                return found
        done.add(node)
        return None

    return next((cycle for node in sorted(graph) if (cycle := visit(node, []))), None)


def test_the_reader_resolves_absolute_relative_and_lazy_imports():
    source = "import speecheq_jax.input.batch\nfrom . import step\ndef f():\n    from ..eval import metrics\n"
    assert set(_imported_modules(source, "speecheq_jax.train.loop")) == {
        "speecheq_jax.input.batch", "speecheq_jax.train.step", "speecheq_jax.eval.metrics"}
    assert _cycle({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b": []}, "b": {}}) is None


def test_the_driver_is_seen_joining_train_and_eval():
    jobs = _edges()["jobs"]
    assert {"train", "eval", "input"} <= jobs.keys()


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_part_imports_none_of_its_forbidden_parts(part):
    imports = _edges().get(part, {})
    wrong = {target: sorted(set(modules)) for target, modules in imports.items() if target in FORBIDDEN[part]}
    assert not wrong, f"speecheq_jax.{part} imports {wrong} (part imported: modules importing it)"


def test_no_import_cycle_between_the_parts():
    graph = _edges()
    cycle = _cycle(graph)
    assert cycle is None, "import cycle " + " -> ".join(cycle) + ": " + "; ".join(
        f"{a} -> {b} in {sorted(set(graph[a][b]))}" for a, b in zip(cycle, cycle[1:]))


def test_configs_load_without_jax_tfds_readers_or_generator():
    """Each configs/*.py get_config() in one fresh interpreter; which heavy packages each pulled in."""
    code = (
        "import importlib.util, pathlib, sys\n"
        f"heavy = {HEAVY!r}\n"
        "for path in sorted(pathlib.Path('configs').glob('*.py')):\n"
        "    spec = importlib.util.spec_from_file_location(path.stem + '_config', path)\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "    module.get_config()\n"
        "    from speecheq_jax.corpora import registry\n"
        "    readers = tuple(registry.MODULES.values())\n"
        "    print(path.name, sorted(m for m in heavy + readers if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(list((REPO / "configs").glob("*.py"))) >= 1
    assert all(line.endswith(" []") for line in lines), result.stdout
