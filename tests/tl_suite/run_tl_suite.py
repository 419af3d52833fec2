"""Run TransformerLens 3.9's own tests on TransformerLens and on hookpoints, and compare.

``python run_tl_suite.py SOURCE OUT`` takes SOURCE, TransformerLens's sdist unpacked (its
package, its ``tests/`` and the files those tests read), and runs the selection below twice
with pytest, at the same time (one process each): once on TransformerLens itself, once with
hookpoints underneath (``HOOKPOINTS_TL_SHIM=1``: a ``.pth`` file installs
:mod:`hookpoints.interop.transformer_lens` at interpreter start, so TransformerLens's
``HookPoint`` and ``HookedRootModule`` are hookpoints' in every process the tests start).
Both runs use the same options: TransformerLens's runtime type checks
(``--jaxtyping-packages=transformer_lens,beartype.beartype``, applied to hookpoints' classes
too by ``tl_suite_plugin``), no hub (``offline_hub`` builds random-weight models of small
configs for the names the tests load), one thread, a time limit per test.

It prints ``TL N/M, hookpoints K/M`` (M selected tests, N passing on TransformerLens, K of
those passing on hookpoints), lists every test TransformerLens passes and hookpoints fails,
writes ``OUT/summary.json`` and exits 1 if there is any.

Selection: TransformerLens's tests of the hook system and of the models built on it, i.e.
every file under ``tests/unit``, ``tests/integration`` and ``tests/acceptance`` except the
TransformerBridge suites (``model_bridge`` folders: the bridge wraps Hugging Face models it
loads from the hub and registers its own hooks on them; its hook points are
TransformerLens's, and hookpoints' attach() is the counterpart covered by this project's own
tests) and the benchmark folders (timings, not behaviour).

Exclusions (each named with its reason in ``EXCLUDED``): only tests that cannot run offline
for either library. Tests of TransformerLens's implementation rather than its behaviour (mocks
of its internals) run on both but are listed apart (``IMPLEMENTATION_TESTS``, with reasons).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent

SELECTION = ["tests/unit", "tests/integration", "tests/acceptance"]
IGNORED_FOLDERS = [
    "tests/unit/model_bridge",
    "tests/integration/model_bridge",
    "tests/acceptance/model_bridge",
    "tests/unit/benchmarks",
    "tests/integration/benchmarks",
]
#: node id prefix -> why it cannot run offline for either library.
EXCLUDED: dict[str, str] = {}
#: node id -> why it tests TransformerLens's implementation rather than behaviour hookpoints can
#: share. Still run on both; reported apart, never counted as a regression. Keep this short.
IMPLEMENTATION_TESTS: dict[str, str] = {
    "tests.unit.test_hook_points::test_add_hook_prepend": (
        "mocks TransformerLens's internals: replaces the instance's register_forward_hook and the "
        "module-level LensHandle and asserts add_hook goes through them; hookpoints keeps its hooks "
        "in its own lists behind one torch hook, so the mocks are never called. The behaviour it "
        "guards (prepend runs first) is tests/hookpoints/test_hook_point.py::"
        "test_forward_hooks_chain_and_prepend_runs_first"
    ),
}

PYTEST_OPTIONS = [
    "-q",
    "-p",
    "no:cacheprovider",
    "-p",
    "offline_hub",
    "-p",
    "tl_suite_plugin",
    "--jaxtyping-packages=transformer_lens,beartype.beartype",
    "--timeout=300",
    "--continue-on-collection-errors",
    "-W",
    "ignore::DeprecationWarning",
    "-o",
    "addopts=",
    "-o",
    "doctest_optionflags=NORMALIZE_WHITESPACE ELLIPSIS FLOAT_CMP",
    "-rN",
]


def _pytest_command(source: Path, junit: Path, extra: list[str]) -> list[str]:
    ignores = [f"--ignore={source / folder}" for folder in IGNORED_FOLDERS]
    deselects = [f"--deselect={node}" for node in EXCLUDED]
    return [
        sys.executable,
        "-m",
        "pytest",
        *PYTEST_OPTIONS,
        f"--junitxml={junit}",
        *ignores,
        *deselects,
        *extra,
        *(str(source / path) for path in SELECTION),
    ]


def _environment(shim: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONDONTWRITEBYTECODE="1",
        HOOKPOINTS_TL_SHIM="1" if shim else "0",
        PYTHONPATH=os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p),
    )
    return env


def _results(junit: Path) -> dict[str, tuple[str, str]]:
    """node id -> (outcome, message) from a junit file."""
    out: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).iter("testcase"):
        node = f"{case.get('classname')}::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, message = "failed", (child.get("message") or "").strip()
            elif child.tag == "skipped":
                outcome = "skipped"
        out[node] = (outcome, message)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="TransformerLens's sdist, unpacked")
    parser.add_argument("out", type=Path, help="folder for the junit files and summary.json")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments (e.g. -k ...)")
    args = parser.parse_args(argv)
    source, out = args.source.resolve(), args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    runs = {}
    for label, shim in (("transformer_lens", False), ("hookpoints", True)):
        junit = out / f"{label}.xml"
        log = (out / f"{label}.log").open("w")
        command = _pytest_command(source, junit, list(args.pytest_args))
        runs[label] = (
            subprocess.Popen(command, cwd=source, env=_environment(shim), stdout=log, stderr=log),
            junit,
        )
    for label, (process, _) in runs.items():
        code = process.wait()
        print(f"{label}: pytest exited {code} (log: {out / (label + '.log')})", flush=True)
    tl, hp = (_results(junit) for _, junit in runs.values())
    selected = sorted(tl)
    tl_passed = [node for node in selected if tl[node][0] == "passed"]
    hp_passed = [node for node in tl_passed if hp.get(node, ("missing", ""))[0] == "passed"]
    implementation_only = {
        n: r for n, r in IMPLEMENTATION_TESTS.items() if n in tl_passed and n not in hp_passed
    }
    regressions = sorted(set(tl_passed) - set(hp_passed) - set(implementation_only))
    summary = {
        "selected": len(selected),
        "transformer_lens_passed": len(tl_passed),
        "hookpoints_passed": len(hp_passed),
        "hookpoints_passed_total": sum(1 for v in hp.values() if v[0] == "passed"),
        "excluded": EXCLUDED,
        "implementation_tests_failing_on_hookpoints": implementation_only,
        "ignored_folders": IGNORED_FOLDERS,
        "regressions": {node: hp.get(node, ("missing", ""))[1][:2000] for node in regressions},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    for node, reason in implementation_only.items():
        print(f"not counted (tests TransformerLens's implementation): {node}\n    {reason}")
    for node in regressions:
        print(f"hookpoints fails, TransformerLens passes: {node}\n    {summary['regressions'][node][:600]}")
    print(
        f"TL {len(tl_passed)}/{len(selected)}, hookpoints {summary['hookpoints_passed_total']}/{len(selected)} "
        f"({len(hp_passed)} of TL's {len(tl_passed)} passes)"
    )
    return 1 if regressions or not selected else 0


if __name__ == "__main__":
    raise SystemExit(main())
