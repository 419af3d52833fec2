"""Development sessions for the hookpoints monorepo.

Distributions are discovered from ``packages/*/pyproject.toml`` and
``plugins/*/pyproject.toml``; ``tests`` is parametrized over them (core alone; each plugin
with core; everything together) so a plugin that only works beside another is caught.
Every session installs torch through ``constraints.txt`` (torch==2.13.0, the CPU wheel on
the build machines): an unpinned torch would pull a multi-GB CUDA build.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
CORE = "packages/hookpoints"
TEST_TOOLS = ("pytest>=8", "hypothesis>=6", "numpy")

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False


def _distributions() -> dict[str, str]:
    """Distribution name -> folder, for every pyproject.toml under packages/ and plugins/."""
    found: dict[str, str] = {}
    for pattern in ("packages/*/pyproject.toml", "plugins/*/pyproject.toml"):
        for pyproject in sorted(ROOT.glob(pattern)):
            if pyproject.parent.name.startswith("_"):
                continue  # the plugin template is exercised by its own session
            name = tomllib.loads(pyproject.read_text())["project"]["name"]
            found[name] = str(pyproject.parent.relative_to(ROOT))
    return found


DISTRIBUTIONS = _distributions()
PLUGINS = [name for name, path in DISTRIBUTIONS.items() if path.startswith("plugins/")]
# core alone, each plugin with core, then everything together (only when there are plugins).
TEST_SETS = {"core": [CORE]}
TEST_SETS.update({name: [CORE, DISTRIBUTIONS[name]] for name in PLUGINS})
if PLUGINS:
    TEST_SETS["all"] = list(dict.fromkeys(DISTRIBUTIONS.values()))


def _test_dirs(paths: list[str]) -> list[str]:
    dirs = []
    for path in paths:
        name = Path(path).name.replace("-", "_")
        folder = ROOT / "tests" / name
        if folder.is_dir():
            dirs.append(str(folder.relative_to(ROOT)))
    return dirs


@nox.session
@nox.parametrize("target", list(TEST_SETS), ids=list(TEST_SETS))
def tests(session: nox.Session, target: str) -> None:
    """Run the test suites of one set of distributions, installed together."""
    paths = TEST_SETS[target]
    session.install(*CONSTRAINTS, "torch==2.13.0", *TEST_TOOLS)
    session.install(*CONSTRAINTS, *(f"./{p}" for p in paths))
    session.run("pytest", *_test_dirs(paths), *session.posargs, env={"HOOKPOINTS_STRICT_PLUGINS": "1"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check over the whole repository."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the core package."""
    session.install(*CONSTRAINTS, "torch==2.13.0", "mypy>=1.10", "numpy")
    session.install(*CONSTRAINTS, "-e", CORE)
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with --strict (warnings are errors)."""
    session.install(*CONSTRAINTS, "torch==2.13.0", "mkdocs-material", "mkdocstrings[python]", "numpy")
    session.install(*CONSTRAINTS, "-e", CORE)
    session.run("mkdocs", "build", "--strict", "-d", str(ROOT / "site"))


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: cache, patch and report on the embedded TinyGPT model."""
    session.install(*CONSTRAINTS, "torch==2.13.0", "numpy")
    session.install(*CONSTRAINTS, f"./{CORE}")
    session.run("python", "-m", "hookpoints", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Overhead ratios against raw torch and TransformerLens 3.9, measured in the same run."""
    session.install(*CONSTRAINTS, "torch==2.13.0", "numpy", "transformer_lens==3.9.0")
    session.install(*CONSTRAINTS, f"./{CORE}")
    session.run("python", "tests/bench/run_bench.py", *session.posargs, env={"OMP_NUM_THREADS": "1"})
