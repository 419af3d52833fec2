"""``nox -s build``'s check of the built distributions: complete metadata in every wheel.

``twine check`` validates that the long description renders; this adds what a package index
page and ``pip show`` need: a license expression and its file, classifiers, project URLs, a
readme, a Python range and dependency ranges (never ``==`` pins).

Usage: ``python tests/packaging/check_dists.py DIST_FOLDER``
"""

from __future__ import annotations

import sys
import zipfile
from email.parser import Parser
from pathlib import Path


def problems_of(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(archive.read(metadata_name).decode())
        licenses = [n for n in names if ".dist-info/licenses/" in n]
    found: list[str] = []
    for field in ("Name", "Version", "Summary", "License-Expression", "Requires-Python"):
        if not meta.get(field):
            found.append(f"no {field}")
    if not meta.get_all("Classifier"):
        found.append("no classifiers")
    urls = meta.get_all("Project-URL") or []
    if not any(u.lower().startswith(("homepage", "source")) for u in urls):
        found.append(f"no Homepage/Source URL (has {urls})")
    if meta.get("Description-Content-Type") != "text/markdown" or len(meta.get_payload() or "") < 200:
        found.append("no markdown readme as long description")
    if not licenses:
        found.append("no license file in .dist-info/licenses/")
    # a test extra may pin what it tests against (TransformerLens 3.9.0); what users get may not
    pins = [r for r in meta.get_all("Requires-Dist") or [] if "==" in r.split(";")[0] and "extra ==" not in r]
    if pins:
        found.append(f"pinned dependencies (published packages declare ranges): {pins}")
    return found


def main(folder: str) -> int:
    wheels = sorted(Path(folder).glob("*.whl"))
    sdists = sorted(Path(folder).glob("*.tar.gz"))
    if not wheels or len(wheels) != len(sdists):
        print(f"expected one wheel and one sdist per distribution in {folder}; got {wheels} {sdists}")
        return 1
    failed = 0
    for wheel in wheels:
        problems = problems_of(wheel)
        print(f"{wheel.name}: {'ok' if not problems else '; '.join(problems)}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
