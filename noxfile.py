"""Development sessions for the hookpoints monorepo.

Distributions are discovered from ``packages/*/pyproject.toml`` and
``plugins/*/pyproject.toml``; ``tests`` is parametrized over them (core alone; each plugin
with core; everything together) so a plugin that only works beside another is caught.
Every session installs torch through ``constraints.txt`` (torch==2.13.0, the CPU wheel on
the build machines): an unpinned torch would pull a multi-GB CUDA build.
"""

from __future__ import annotations

import re
import shutil
import tarfile
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
CORE = "packages/hookpoints"
TEST_TOOLS = ("pytest>=8", "hypothesis>=6", "numpy", "jsonschema>=4")

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


def _project(path: str) -> dict:
    return tomllib.loads((ROOT / path / "pyproject.toml").read_text())["project"]


def _dist_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


DISTRIBUTIONS = _distributions()


def _installables(paths: list[str]) -> list[str]:
    """``paths`` plus the local distributions they depend on, each with its ``test`` extra."""
    ordered: list[str] = []

    def visit(path: str) -> None:
        if path in ordered:
            return
        for requirement in _project(path).get("dependencies", []):
            local = DISTRIBUTIONS.get(_dist_name(requirement))
            if local is not None:
                visit(local)
        ordered.append(path)

    for path in paths:
        visit(path)
    extras = {p: "[test]" if "test" in _project(p).get("optional-dependencies", {}) else "" for p in ordered}
    return [f"./{p}{extras[p]}" for p in ordered]


PLUGINS = [name for name, path in DISTRIBUTIONS.items() if path.startswith("plugins/")]
# core alone, each plugin with core, then everything together (only when there are plugins).
TEST_SETS = {"core": [CORE]}
TEST_SETS.update({name: [CORE, DISTRIBUTIONS[name]] for name in PLUGINS})
if PLUGINS:
    TEST_SETS["all"] = list(dict.fromkeys(DISTRIBUTIONS.values()))
TEST_SETS["template"] = [CORE]  # plus a renamed copy of plugins/_template, made in the session


def _test_dirs(paths: list[str]) -> list[str]:
    """tests/<dist_name> (top-level suites) and <dist>/tests (a plugin's own tests)."""
    dirs = []
    for path in paths:
        for folder in (ROOT / "tests" / Path(path).name.replace("-", "_"), ROOT / path / "tests"):
            if folder.is_dir():
                dirs.append(str(folder))
    return dirs


def copy_plugin_template(name: str, dest: Path) -> Path:
    """Copy plugins/_template to ``dest``, renaming every ``template`` to ``name``."""
    slug = name.strip().lower().replace("_", "-")
    ident = slug.replace("-", "_")
    if not ident.isidentifier():
        raise ValueError(f"plugin name {name!r} must become a Python identifier (letters, digits, -, _)")
    camel = "".join(part.capitalize() for part in ident.split("_"))
    shutil.copytree(
        ROOT / "plugins" / "_template",
        dest,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist"),
    )
    (dest / "src" / "hookpoints_template").rename(dest / "src" / f"hookpoints_{ident}")
    (dest / "tests" / "test_template_plugin.py").rename(dest / "tests" / f"test_{ident}_plugin.py")
    renames = {
        "hookpoints-template": f"hookpoints-{slug}",
        "hookpoints_template": f"hookpoints_{ident}",
        "Template": camel,
        "template": ident,
    }
    pattern = re.compile("|".join(re.escape(k) for k in renames))  # one pass: no renaming twice
    for file in dest.rglob("*"):
        if file.is_file() and file.suffix in {".py", ".toml", ".md"}:
            file.write_text(pattern.sub(lambda m: renames[m.group(0)], file.read_text()))
    return dest


@nox.session
@nox.parametrize("target", list(TEST_SETS), ids=list(TEST_SETS))
def tests(session: nox.Session, target: str) -> None:
    """Run the test suites of one set of distributions, installed together."""
    paths = TEST_SETS[target]
    session.install(*CONSTRAINTS, "torch==2.13.0", *TEST_TOOLS)
    test_dirs = _test_dirs(paths)
    installs = _installables(paths)
    if target == "template":  # the template, copied and renamed, must pass with no edits
        copy = Path(session.create_tmp()) / "hookpoints-template-copy"
        shutil.rmtree(copy, ignore_errors=True)
        copy_plugin_template("template-copy", copy)
        installs.append(str(copy))
        test_dirs = [str(copy / "tests")]
    session.install(*CONSTRAINTS, *installs)
    session.run("pytest", *test_dirs, *session.posargs, env={"HOOKPOINTS_STRICT_PLUGINS": "1"})


@nox.session(python=False)
def new_plugin(session: nox.Session) -> None:
    """Start a plugin: ``nox -s new_plugin -- NAME`` writes plugins/hookpoints-NAME/."""
    if len(session.posargs) != 1:
        session.error("usage: nox -s new_plugin -- NAME")
    name = session.posargs[0]
    dest = ROOT / "plugins" / f"hookpoints-{name.lower().replace('_', '-')}"
    if dest.exists():
        session.error(f"{dest} exists already")
    copy_plugin_template(name, dest)
    session.log(f"wrote {dest}; run `nox -s tests` to test it alone with core and with everything")


def _all_distributions() -> list[str]:
    """Every distribution, the template included (``-e`` installs for the static checks)."""
    return [CORE, *sorted(p for p in DISTRIBUTIONS.values() if p != CORE), "plugins/_template"]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (style, and private names kept private) and the import-linter contracts (the layers).

    The contracts (pyproject.toml, ``[tool.importlinter]``) read the installed packages, so
    every distribution is installed first; no heavy optional dependency is needed for that.
    """
    session.install("ruff>=0.6", "import-linter>=2.1")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.install(*CONSTRAINTS, "torch==2.13.0")
    session.install(*CONSTRAINTS, "--no-deps", *(arg for p in _all_distributions() for arg in ("-e", p)))
    session.install("pluggy>=1.3")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the core package and on every plugin."""
    session.install(*CONSTRAINTS, "torch==2.13.0", "mypy>=1.10", "numpy", "hypothesis")
    session.install(*CONSTRAINTS, *(arg for p in _all_distributions() for arg in ("-e", p)))
    session.run("mypy")


RICH = "plugins/hookpoints-rich"


@nox.session
def docs(session: nox.Session) -> None:
    """Run every python block of README.md and docs/, then build the site with --strict.

    The blocks (tests/docs) use every plugin, transformers and TransformerLens, so all are
    installed here. The report picture in docs/reports.md is generated here (never committed).
    """
    session.install(
        *CONSTRAINTS, "torch==2.13.0", "mkdocs-material", "mkdocstrings[python]", "mkdocs-jupyter",
        *TEST_TOOLS, "transformers", f"transformer-lens=={TL_VERSION}",
    )  # fmt: skip
    session.install(*CONSTRAINTS, *(arg for p in DISTRIBUTIONS.values() for arg in ("-e", p)))
    session.run("pytest", "tests/docs", "-p", "no:cacheprovider", env={"HOOKPOINTS_STRICT_PLUGINS": "1"})
    (ROOT / "docs" / "assets").mkdir(exist_ok=True)
    session.run(
        "python",
        "-m",
        "hookpoints",
        "report",
        "hookpoints.examples:TinyGPT",
        "--input",
        "torch.randint(0, 1000, (1, 8))",
        "--reporter",
        "rich",
        "--width",
        "110",
        "--svg",
        str(ROOT / "docs" / "assets" / "report.svg"),
        silent=True,
    )
    session.run("mkdocs", "build", "--strict", "-d", str(ROOT / "site"), env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: cache, patch and report on the embedded TinyGPT model."""
    session.install(*CONSTRAINTS, "torch==2.13.0", "numpy")
    session.install(*CONSTRAINTS, f"./{CORE}", f"./{RICH}")  # the report at the end is rich's
    session.run("python", "-m", "hookpoints", "demo", *session.posargs)


TL_VERSION = "3.9.0"
# Starts hookpoints' TransformerLens shim in every interpreter of the session that sets the
# variable (subprocesses the tests start included); a no-op otherwise.
_SHIM_PTH = (
    'import os; os.environ.get("HOOKPOINTS_TL_SHIM") == "1" and '
    '__import__("hookpoints.interop.transformer_lens").interop.transformer_lens.install()\n'
)


@nox.session(name="tl-suite")
def tl_suite(session: nox.Session) -> None:
    """TransformerLens's own tests on TransformerLens and on hookpoints; SAELens parity.

    Downloads TransformerLens's sdist (its tests are in it), runs the selection documented in
    ``tests/tl_suite/run_tl_suite.py`` twice and fails when hookpoints fails a test that
    TransformerLens passes; then ``tests/interop`` (SAELens and TransformerLens on
    hookpoints, bit for bit). ``nox -s tl-suite -- -k pattern`` narrows the TL selection.
    """
    session.install(
        *CONSTRAINTS,
        "torch==2.13.0",
        f"transformer-lens=={TL_VERSION}",
        "sae-lens",
        "pytest>=8",
        "pytest-timeout",
        "numpy",
    )
    session.install(*CONSTRAINTS, f"./{CORE}")
    tmp = Path(session.create_tmp())
    sdist_dir = tmp / "sdist"
    session.run(
        "python", "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        f"transformer-lens=={TL_VERSION}", "-d", str(sdist_dir), silent=True,
    )  # fmt: skip
    source = tmp / f"transformer_lens-{TL_VERSION}"
    if not source.is_dir():
        (archive,) = sdist_dir.glob(f"transformer_lens-{TL_VERSION}.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
    site = session.run(
        "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", silent=True
    )
    Path(str(site).strip(), "hookpoints_tl_shim.pth").write_text(_SHIM_PTH)
    results = tmp / "results"
    session.run("python", "tests/tl_suite/run_tl_suite.py", str(source), str(results), *session.posargs)
    session.run("pytest", "tests/interop", "-p", "no:cacheprovider")


@nox.session
def bench(session: nox.Session) -> None:
    """Overhead ratios against raw torch and TransformerLens 3.9, measured in the same run."""
    session.install(*CONSTRAINTS, "torch==2.13.0", "numpy", "transformer_lens==3.9.0", "transformers")
    session.install(
        *CONSTRAINTS, f"./{CORE}", "./plugins/hookpoints-safetensors", "./plugins/hookpoints-tensor-ops"
    )
    session.run("python", "tests/bench/run_bench.py", *session.posargs, env={"OMP_NUM_THREADS": "1"})


@nox.session
def build(session: nox.Session) -> None:
    """Build every distribution's sdist and wheel, check them, and run the demo from the wheels.

    ``twine check --strict`` (the long description renders) plus tests/packaging/check_dists.py
    (license, classifiers, URLs, readme, ranges not pins); then this session's own fresh
    virtualenv installs the core and rich wheels (torch through the constraints) and runs
    ``hookpoints demo`` from them, outside the source tree.
    """
    session.install(*CONSTRAINTS, "build>=1.2", "twine>=5")
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for path in DISTRIBUTIONS.values():  # the template is copied, never published
        session.run("python", "-m", "build", "--outdir", str(dist), path, silent=True)
    session.run("twine", "check", "--strict", *sorted(str(p) for p in dist.iterdir()))
    session.run("python", "tests/packaging/check_dists.py", str(dist))
    wheels = {p.name.split("-")[0]: str(p) for p in dist.glob("*.whl")}
    session.install(*CONSTRAINTS, "torch==2.13.0", "numpy")
    session.install(*CONSTRAINTS, wheels["hookpoints"], wheels["hookpoints_rich"])
    with session.chdir(dist):  # not the source tree: the installed wheels must be enough
        session.run("hookpoints", "--version")
        session.run("hookpoints", "demo")


@nox.session
def notebook(session: nox.Session) -> None:
    """Execute docs/notebooks/*.ipynb with nbclient (a cell that raises fails the session).

    The executed copies go to the session's tmp folder; the committed notebooks stay without
    outputs (the docs site shows them as committed).
    """
    session.install(
        *CONSTRAINTS, "torch==2.13.0", "numpy", "matplotlib", "nbclient>=0.10", "nbformat", "ipykernel"
    )
    session.install(*CONSTRAINTS, f"./{CORE}", f"./{RICH}")
    out = Path(session.create_tmp())
    for notebook in sorted((ROOT / "docs" / "notebooks").glob("*.ipynb")):
        session.run(
            "python", "-c",
            "import sys, nbformat\nfrom nbclient import NotebookClient\n"
            "nb = nbformat.read(sys.argv[1], as_version=4)\n"
            "NotebookClient(nb, timeout=300, kernel_name='python3').execute()\n"
            "nbformat.write(nb, sys.argv[2])\n",
            str(notebook), str(out / notebook.name),
        )  # fmt: skip
