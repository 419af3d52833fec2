"""The command line: user mistakes end in one line + exit 2, real bugs keep their traceback.

Every case runs ``python -m hookpoints`` in a subprocess, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hookpoints

FACTORIES = textwrap.dedent(
    """
    import torch
    from torch import nn

    def plain_linear():
        return nn.Linear(4, 4)

    def broken():
        raise RuntimeError("factory bug")

    def number():
        return 3

    def with_args(n_layers):
        return nn.Linear(4, 4)
    """
)


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    if cwd is not None:
        environment["PYTHONPATH"] = os.pathsep.join([str(cwd), environment.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "hookpoints", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """The result is a user error: exit 2, one line on stderr (no traceback) holding ``fragments``."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def factories(tmp_path: Path) -> Path:
    (tmp_path / "user_factories.py").write_text(FACTORIES)
    return tmp_path


def test_version() -> None:
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"hookpoints {hookpoints.__version__}"


def test_help_and_version_do_not_import_torch() -> None:
    code = (
        "import sys\nfrom hookpoints.cli import main\n"
        "for argv in (['--help'], ['--version'], ['report', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit as exc:\n        assert exc.code == 0, exc.code\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_unknown_command_names_the_close_one() -> None:
    one_line_error(cli("reprot"), "unknown command 'reprot'", "did you mean 'report'?")
    one_line_error(cli("xyzzy"), "unknown command 'xyzzy'", "expected one of demo, plugins, report")


def test_unimportable_factory_module() -> None:
    one_line_error(cli("report", "nosuch_module_here:thing"), "cannot import 'nosuch_module_here'")


def test_factory_attribute_typo_has_close_matches() -> None:
    one_line_error(
        cli("report", "hookpoints.examples:TinyGTP"),
        "hookpoints.examples has no attribute 'TinyGTP'",
        "did you mean 'TinyGPT'",
    )


def test_factory_spec_without_colon() -> None:
    one_line_error(cli("report", "nocolon"), "expected MODULE:FACTORY", "'nocolon'")


def test_factory_that_needs_arguments(factories: Path) -> None:
    one_line_error(cli("report", "user_factories:with_args", cwd=factories), "needs arguments (n_layers)")


def test_factory_returning_no_model(factories: Path) -> None:
    one_line_error(cli("report", "user_factories:number", cwd=factories), "returned int", "torch.nn.Module")


def test_factory_returning_a_plain_module_is_attached(factories: Path) -> None:
    result = cli("report", "user_factories:plain_linear", "--reporter", "text", cwd=factories)
    assert result.returncode == 0, result.stderr
    assert "reporting on attach(model)" in result.stderr
    assert "hook_in" in result.stdout and "hook_out" in result.stdout


def test_a_bug_in_the_factory_keeps_its_traceback(factories: Path) -> None:
    result = cli("report", "user_factories:broken", cwd=factories)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "RuntimeError: factory bug" in result.stderr


def test_unknown_reporter_lists_installed_and_close_matches() -> None:
    line = one_line_error(
        cli("report", "hookpoints.testing:Arith", "--reporter", "txet"), "no reporter named 'txet'"
    )
    assert "did you mean 'text'" in line
    one_line_error(cli("demo", "--reporter", "txet"), "no reporter named 'txet'")


def test_first_party_reporter_not_installed_names_the_package() -> None:
    result = cli("report", "hookpoints.testing:Arith", "--reporter", "rich", HOOKPOINTS_LOAD_PLUGINS="")
    one_line_error(result, "pip install hookpoints-rich")


def test_bad_input_expression() -> None:
    one_line_error(
        cli("report", "hookpoints.testing:Arith", "--input", "torch.ones(2,"), "--input", "SyntaxError"
    )


def test_output_to_a_missing_folder_is_refused_before_work(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "report.txt"
    one_line_error(cli("report", "hookpoints.testing:Arith", "--output", str(target)), "does not exist")
    one_line_error(cli("report", "hookpoints.testing:Arith", "--output", str(tmp_path)), "is a folder")


def test_output_writes_the_report_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    result = cli("report", "hookpoints.testing:Arith", "--reporter", "text", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and f"wrote {target}" in result.stderr
    assert "hook_in" in target.read_text()


def test_demo_output_keeps_the_narrative_on_stdout(tmp_path: Path) -> None:
    target = tmp_path / "demo.txt"
    result = cli("demo", "--layers", "1", "--reporter", "text", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert "zero-ablating head 1 of layer 0" in result.stdout and "rel norm" not in result.stdout
    assert "first divergence at blocks.0.attn.hook_z" in target.read_text()


def test_too_narrow_width() -> None:
    one_line_error(cli("report", "hookpoints.testing:Arith", "--width", "5"), "--width must be at least 20")


def test_piped_width_follows_columns_and_defaults_to_120(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from hookpoints.cli import output_width

    monkeypatch.setattr(sys, "stdout", io.StringIO())  # a pipe, even under pytest -s in a terminal
    monkeypatch.delenv("COLUMNS", raising=False)
    assert output_width(None) == 120
    monkeypatch.setenv("COLUMNS", "90")
    assert output_width(None) == 90
    assert output_width(70) == 70
