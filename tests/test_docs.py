"""The docs (README.md and docs/**/*.md) name only files and code that exist.

What is checked, per Markdown file (fenced code blocks are cut out first, then read by rules 4-5):

1. Links `[text](target)`: the target (without `#anchor`), relative to the doc's folder, exists.
   Web links (`http:`, `https:`, `mailto:`) and pure anchors are not checked.
2. Paths in inline code: a span of path characters only (`[A-Za-z0-9_.-/]`, so no `<placeholder>`,
   `*`, `~` or `:variant`) is a path when it holds a `/` but does not start with one (`/data/x`),
   and either ends in `.py` or starts with a top-level entry of the repository (not one that
   .gitignore ignores, such as `runs/`) or a folder of `speecheq_jax/`; it must exist relative
   to the repository root or to `speecheq_jax/`. A bare file name ending in `.py` must be the
   name of some file in the repository.
3. Symbols in inline code: a span of dotted names (`a.b` or `a.b.c`, an optional call `(...)`
   at the end dropped; file names such as `metrics.json` are not symbols) must resolve:
   * `speecheq_jax.x.y` from the package;
   * `config.x.y`, or `x.y` where `x` is a section of `run_config.base_config()` (data, model,
     train, ...): a key of that config (then it need not be code);
   * `x.y` where `x` is the name of a module or sub-package anywhere in the package
     (`frames`, `heads`, `batch`, `contract`) or of a class, function or constant defined at the
     top level of one (`HeadSpec`, `Exclusions`): `y` is defined there. "Defined" means a def,
     class or assignment at the top level of the module (or in the class body for a class), or a
     submodule of a package; a name a module only imports does not count, so `batch.SUBSAMPLING`
     fails where `frames.SUBSAMPLING` passes.
   Spans whose first name is another library's (`EXTERNAL`: `jax.nn...`, `nnx.scan`) are not
   checked; any other first name is an error, so a renamed module is caught.
   Resolution reads the source with `ast`; nothing of the package is imported except the config.
4. Commands, in ```bash blocks and in inline code with a space: every token that passes rule 2
   as a path (after dropping a `:variant`) exists, and every `speecheq_jax.x` module name (e.g.
   after `python -m`) is a module.
5. ```python blocks must parse; every `from speecheq_jax... import a, b` and `import speecheq_jax...`
   in them resolves by rule 3.

The files a how-to tells you to create (a new corpus, a new head) are listed in HOWTO_NEW_FILES.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).parents[1]
PACKAGE = REPO / "speecheq_jax"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]

# Files the how-tos tell the reader to create (examples, not part of the repository).
HOWTO_NEW_FILES = frozenset({"speecheq_jax/corpora/emodb.py", "speecheq_jax/heads/valence.py", "configs/emodb.py"})
# First names of other libraries' symbols: not checked.
EXTERNAL = frozenset({
    "jax", "jnp", "nnx", "flax", "optax", "orbax", "ocp", "grain", "tfds", "np", "numpy", "scipy", "torch",
    "torchaudio", "librosa", "onnx", "onnxruntime", "jax2onnx", "multihost_utils", "ml_collections", "os",
    "sys", "tensorflow", "absl", "soundfile", "psutil", "matplotlib", "sklearn",
})
FILE_SUFFIXES = (".py", ".md", ".json", ".jsonl", ".csv", ".png", ".txt", ".toml", ".sh", ".onnx", ".stablehlo",
                 ".wav", ".flac", ".log", ".yaml", ".yml", ".cfg")

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
_SPAN = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(r"[A-Za-z0-9_./-]+")
_SYMBOL = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\(.*\))?")
_MODULE_TOKEN = re.compile(r"speecheq_jax(?:\.\w+)+")


# ---------------------------------------------------------------------------------------- the code


@functools.cache
def _top_level() -> frozenset[str]:
    """The repository's top-level entries, less .git and what .gitignore ignores (.venv, runs/, ...)."""
    ignore = [line.strip().strip("/") for line in (REPO / ".gitignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    return frozenset(p.name for p in REPO.iterdir()
                     if p.name != ".git" and not any(fnmatch.fnmatch(p.name, pattern) for pattern in ignore))


@functools.cache
def _modules() -> dict[str, Path]:
    """Dotted module name -> its file (a package -> its __init__.py, or None for a bare folder)."""
    out: dict[str, Path | None] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        for i in range(1, len(parts) - 1):  # folders, also those without an __init__.py (train/)
            out.setdefault(".".join(parts[:i + 1]), None)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


@functools.cache
def _definitions(module: str) -> dict[str, ast.AST]:
    """Top-level names a module defines (def, class, assignment), not the names it imports, unless
    it exports them in `__all__` (a package's public API re-exported from its modules)."""
    path = _modules()[module]
    if not path:
        return {}
    body = ast.parse(path.read_text()).body
    out = _body_definitions(body)
    exported = out.get("__all__")
    if isinstance(exported, ast.Assign) and isinstance(exported.value, (ast.List, ast.Tuple)):
        out.update({item.value: exported for item in exported.value.elts if isinstance(item, ast.Constant)})
    return out


def _body_definitions(body: list[ast.stmt]) -> dict[str, ast.AST]:
    out: dict[str, ast.AST] = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        out[name.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = node
        elif isinstance(node, (ast.If, ast.Try)):
            out.update(_body_definitions(node.body))
    return out


@functools.cache
def _top_names() -> dict[str, list[str]]:
    """First names a symbol may start with -> dotted paths they stand for (modules and their definitions)."""
    out: dict[str, list[str]] = {}
    for module in _modules():
        out.setdefault(module.rsplit(".", 1)[-1], []).append(module)
        for name in _definitions(module):
            out.setdefault(name, []).append(f"{module}.{name}")
    return out


def _resolves(dotted: str) -> bool:
    """Whether `speecheq_jax.a.b.C.d` names a module, a top-level definition or a class member."""
    names = dotted.split(".")
    for split in range(len(names), 0, -1):  # the longest module prefix
        module = ".".join(names[:split])
        if module in _modules():
            break
    else:
        return False
    rest = names[split:]
    if not rest:
        return True
    node = _definitions(module).get(rest[0])
    for name in rest[1:]:
        if not isinstance(node, ast.ClassDef):
            return False
        node = _body_definitions(node.body).get(name)
    return node is not None


@functools.cache
def _config():
    from speecheq_jax import run_config
    return run_config.base_config("tiny")


def _config_key(names: list[str]) -> bool:
    node = _config()
    for name in names:
        if not hasattr(node, "keys") or name not in node:
            return False
        node = node[name]
    return True


# --------------------------------------------------------------------------------------- the rules


def _is_path(span: str) -> bool:
    if not _PATH.fullmatch(span) or "/" not in span or span.startswith(("/", "../")):
        return False
    first = span.split("/", 1)[0]
    return span.endswith(".py") or first in _top_level() or (PACKAGE / first).is_dir()


def _path_problem(span: str) -> str | None:
    path = span.rstrip("/")
    if path in HOWTO_NEW_FILES or f"speecheq_jax/{path}" in HOWTO_NEW_FILES:
        return None
    if (REPO / path).exists() or (PACKAGE / path).exists():
        return None
    return f"path `{span}` does not exist"


@functools.cache
def _file_names() -> frozenset[str]:
    return frozenset(p.name for top in _top_level() for p in (REPO / top).rglob("*.py"))


def _symbol_problem(symbol: str) -> str | None:
    names = symbol.split(".")
    first = names[0]
    if first in EXTERNAL or any(Path(f).stem == first for f in HOWTO_NEW_FILES):
        return None
    if first == "speecheq_jax":
        if any(symbol == f.removesuffix(".py").replace("/", ".") for f in HOWTO_NEW_FILES):
            return None
        return None if _resolves(symbol) else f"`{symbol}` not found in the package"
    if first == "config":
        return None if _config_key(names[1:]) else f"`{symbol}` is not a key of run_config.base_config()"
    if first in _config() and _config_key(names):
        return None
    candidates = _top_names().get(first)
    if not candidates:
        return f"`{symbol}`: no module, definition or config section of the package is named {first!r}"
    if any(_resolves(".".join([c, *names[1:]])) for c in candidates):
        return None
    return f"`{symbol}` not found (looked in {', '.join(sorted(candidates))})"


def _span_problem(span: str) -> str | None:
    span = span.strip()
    if len(span.split()) > 1:  # a command
        return "; ".join(_bash_problems(span)) or None
    if _is_path(span):
        return _path_problem(span)
    if _PATH.fullmatch(span) and span.endswith(".py") and "/" not in span:
        return None if span in _file_names() else f"no file named `{span}` in the repository"
    if span.endswith(FILE_SUFFIXES):
        return None
    match = _SYMBOL.fullmatch(span)
    return _symbol_problem(match.group(1)) if match else None


def _bash_problems(code: str) -> list[str]:
    problems = []
    for token in code.split():
        token = token.strip("'\"")
        if _MODULE_TOKEN.fullmatch(token) and token.replace(".", "/") + ".py" not in HOWTO_NEW_FILES:
            if token not in _modules():
                problems.append(f"module `{token}` (in a command) does not exist")
            continue
        path = token.split(":", 1)[0]
        if _is_path(path) and (problem := _path_problem(path)):
            problems.append(problem + " (in a command)")
    return problems


def _python_problems(code: str) -> list[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        return [f"```python block does not parse: {error}"]
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("speecheq_jax"):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if alias.name.startswith("speecheq_jax")]
        else:
            continue
        problems += [p for name in names if (p := _symbol_problem(name))]
    return problems


def problems(text: str, folder: Path) -> list[str]:
    """Every problem of one Markdown text whose file lies in `folder`."""
    found = []
    for language, code in _FENCE.findall(text):
        language = language.strip().lower()
        if language in ("bash", "sh", "shell", "console"):
            found += _bash_problems(code)
        elif language == "python":
            found += _python_problems(code)
    prose = _FENCE.sub("", text)
    for target in _LINK.findall(prose):
        if target.startswith(("http:", "https:", "mailto:", "#")):
            continue
        path = (folder / target.split("#", 1)[0]).resolve()
        relative = path.relative_to(REPO.resolve()).as_posix() if path.is_relative_to(REPO.resolve()) else str(path)
        if not path.exists():
            found.append(f"link ({target}) -> {relative} does not exist")
    for span in _SPAN.findall(prose):
        if problem := _span_problem(span):
            found.append(problem)
    return found


# --------------------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("doc", DOCS, ids=[d.relative_to(REPO).as_posix() for d in DOCS])
def test_doc_names_only_what_exists(doc):
    found = problems(doc.read_text(), doc.parent)
    assert not found, f"{doc.relative_to(REPO)}:\n  " + "\n  ".join(found)


def test_the_rules_catch_the_drift_of_issue_18():
    """The drift the issue names (and others like it) is found; the current names pass."""
    stale = (
        "(80 = `features.NUM_MELS`), `phonemes [B,T/4]` (4 = `batch.SUBSAMPLING`), `data/batch.py`, "
        "`speecheq_jax/app/train.py`, `losses.ctc_loss`, `heads/spec.py`, `spec.py`, `heads.spec.HeadSpec`, "
        "`corpora.folds.make_folds`, `config.data.no_such_key`, [ARCH](no_such_file.md)\n"
        "```bash\npython -m speecheq_jax.data.prepare --corpus x\npython bench/no_such_bench.py\n```\n"
        "```python\nfrom speecheq_jax.corpora import folds\n```\n"
    )
    found = problems(stale, REPO / "docs")
    for name in ("features.NUM_MELS", "batch.SUBSAMPLING", "data/batch.py", "speecheq_jax/app/train.py",
                 "losses.ctc_loss", "heads/spec.py", "`spec.py`", "heads.spec.HeadSpec", "corpora.folds.make_folds",
                 "config.data.no_such_key", "no_such_file.md", "speecheq_jax.data.prepare", "bench/no_such_bench.py",
                 "speecheq_jax.corpora.folds"):
        assert any(name in problem for problem in found), (name, found)
    current = (
        "`frames.NUM_MELS`, `frames.SUBSAMPLING`, `speecheq_jax/input/batch.py`, `input/batch.py`, "
        "`heads.contract.HeadSpec`, `HeadSpec.label_mask`, `corpora.protocols.make_folds`, `model.remat`, "
        "`config.data.strict`, `jax.nn.dot_product_attention`, `metrics.json`, `runs/demo/report.md`, "
        "[benchmarks](benchmarks.md), [scale-out](howto/scale-out.md)\n"
        "```bash\npython -m speecheq_jax.prep.prepare --corpus x\npython bench/soak.py --workdir W\n```\n"
        "```python\nfrom speecheq_jax.corpora import protocols\nfrom speecheq_jax.heads.contract import HeadSpec\n```\n"
    )
    assert problems(current, REPO / "docs") == []
