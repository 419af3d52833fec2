"""Every ```python block in README.md and docs/ runs, so the docs cannot drift from the code.

The blocks of one page run in order in one namespace (a page reads as one session), in a
fresh working folder, with hookpoints and the plugins the docs session installs.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# fences may be indented (inside a list item); the code is dedented by the fence's indent
FENCE = re.compile(r"^(?P<indent>[ \t]*)```python\n(?P<code>.*?)^(?P=indent)```\s*$", re.S | re.M)


def blocks(page: Path) -> list[tuple[int, str]]:
    """(line, code) of each python block of ``page``."""
    text = page.read_text()
    return [
        (text.count("\n", 0, m.start("code")) + 1, textwrap.dedent(m.group("code")))
        for m in FENCE.finditer(text)
    ]


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_page_code_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for line, code in blocks(page):
        compiled = compile(code, f"{page.relative_to(ROOT)}:{line}", "exec")
        try:
            exec(compiled, namespace)
        except Exception as exc:
            raise AssertionError(f"{page.relative_to(ROOT)}, block at line {line} failed: {exc!r}") from exc


def test_every_python_fence_is_collected() -> None:
    # guards the pattern: were it to miss fences, the parametrized test would run fewer pages
    for page in PAGES:
        assert len(blocks(page)) == page.read_text().count("```python\n"), page.name
    assert sum(len(blocks(p)) for p in PAGES) >= 40
