"""Every ```python block in README.md and docs/ runs, so the docs cannot drift from the code.

The blocks of one page run in order in one namespace (a page reads as one session), in a
fresh working folder, with hookpoints and the plugins the docs session installs. A block
meant as a fragment, not a program, is marked by the line ``<!-- fragment -->`` just above it
and is compiled (syntax-checked) instead of run; the test below counts those, so they stay few.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<marker><!-- fragment -->\n)?```python\n(?P<code>.*?)^```\s*$", re.S | re.M)


def blocks(page: Path) -> list[tuple[int, str, bool]]:
    """(line, code, is_fragment) of each python block of ``page``."""
    text = page.read_text()
    return [
        (text.count("\n", 0, m.start("code")) + 1, m.group("code"), m.group("marker") is not None)
        for m in FENCE.finditer(text)
    ]


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_page_code_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for line, code, fragment in blocks(page):
        compiled = compile(code, f"{page.relative_to(ROOT)}:{line}", "exec")
        if fragment:
            continue
        try:
            exec(compiled, namespace)
        except Exception as exc:
            raise AssertionError(f"{page.relative_to(ROOT)}, block at line {line} failed: {exc!r}") from exc


def test_fragments_stay_few() -> None:
    fragments = [(p.name, line) for p in PAGES for line, _, frag in blocks(p) if frag]
    assert len(fragments) <= 5, fragments
