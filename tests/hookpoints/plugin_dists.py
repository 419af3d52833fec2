"""Build throwaway plugin distributions as real wheels and pip-install them into a folder."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path


def build_wheel(
    out: Path, dist: str, version: str, entry_points: dict[str, str], modules: dict[str, str]
) -> Path:
    """A minimal, valid wheel holding ``modules`` (name -> source) and hookpoints entry points."""
    norm = dist.replace("-", "_")
    info = f"{norm}-{version}.dist-info"
    files = {f"{name}.py": source for name, source in modules.items()}
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
    files[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: hookpoints-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{info}/entry_points.txt"] = "[hookpoints]\n" + "".join(
        f"{k} = {v}\n" for k, v in entry_points.items()
    )
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    path = out / f"{norm}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def pip_install(wheels: list[Path], target: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            *map(str, wheels),
        ],
        check=True,
    )


GOOD = """
from hookpoints import hookimpl
from hookpoints.plugins import ConversionStep, Reporter


class Scale:
    def __init__(self, factor=2.0):
        self.factor = factor

    def convert(self, x):
        return x * self.factor

    def revert(self, x):
        return x / self.factor


class Count:
    def render(self, report, *, width=100, color=False):
        return f"{len(report.points)} hook points"


@hookimpl
def hookpoints_conversion_steps():
    yield ConversionStep("scale", "multiply by a factor", Scale, parameters=("factor",))


@hookimpl
def hookpoints_reporters():
    yield Reporter("count", "how many hook points", Count, priority=-5)
"""

BROKEN_IMPORT = "import hookpoints_missing_dependency  # noqa\n"

DUPLICATE = """
from hookpoints import hookimpl
from hookpoints.plugins import ConversionStep


@hookimpl
def hookpoints_conversion_steps():
    yield ConversionStep("scale", "another scale", lambda factor=1.0: None)
"""

RAISING_HOOK = """
from hookpoints import hookimpl


@hookimpl
def hookpoints_reporters():
    raise RuntimeError("reporter table exploded")
"""
