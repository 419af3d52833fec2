"""Snapshot comparison: ``UPDATE_SNAPSHOTS=1 pytest ...`` rewrites the stored files."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

SNAPSHOTS = Path(__file__).parent / "snapshots"


def assert_snapshot(name: str, text: str, folder: Path = SNAPSHOTS) -> None:
    path = folder / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if os.environ.get("CI") and not path.exists():
            raise AssertionError(
                f"snapshot {path} is missing (run the tests with UPDATE_SNAPSHOTS=1 and commit it)"
            )
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
        return
    expected = path.read_text().rstrip("\n")
    if text != expected:
        diff = "\n".join(
            difflib.unified_diff(expected.splitlines(), text.splitlines(), "stored", "now", lineterm="")
        )
        raise AssertionError(f"{name} differs from its snapshot:\n{diff}")
