"""Reading an HTML page back with the standard library: tags, ids, every URL it names, its CSS."""

from __future__ import annotations

import html.parser
import re
from dataclasses import dataclass, field

# ------------------------------------------------------------------ reading the page back
# Attributes that make a browser fetch (or navigate to) what they name.
URL_ATTRIBUTES = frozenset(
    {"src", "href", "xlink:href", "srcset", "poster", "data", "action", "formaction", "background",
     "manifest", "cite", "longdesc", "ping", "codebase", "archive", "usemap", "icon"}
)  # fmt: skip
CSS_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE)
CSS_IMPORT = re.compile(r"@import\s+(?:url\()?\s*['\"]?([^'\")\s;]+)", re.IGNORECASE)


@dataclass
class Page:
    """What an HTML document holds, as read by the standard library's HTML parser."""

    tags: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    references: list[tuple[str, str, str]] = field(default_factory=list)  # (tag, attribute, value)
    css: list[str] = field(default_factory=list)  # <style> contents and style="" values
    attribute_urls: list[str] = field(default_factory=list)  # url(...) in any other attribute
    text: list[tuple[str, str]] = field(default_factory=list)  # (enclosing tag, text)
    title: str = ""

    @property
    def css_urls(self) -> list[str]:
        return [m.group(2) for block in self.css for m in CSS_URL.finditer(block)]

    @property
    def css_imports(self) -> list[str]:
        return [m.group(1) for block in self.css for m in CSS_IMPORT.finditer(block)]

    def texts_in(self, tag: str) -> list[str]:
        return [text for enclosing, text in self.text if enclosing == tag]


class _Reader(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.page.tags.append(tag)
        for name, value in attrs:
            value = value or ""
            if name == "id":
                self.page.ids.append(value)
            if name in URL_ATTRIBUTES:
                self.page.references.append((tag, name, value))
            if name == "style":
                self.page.css.append(value)
            else:
                self.page.attribute_urls += [m.group(2) for m in CSS_URL.finditer(value)]
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.open.pop()

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop() == tag:
                break

    def handle_data(self, data: str) -> None:
        enclosing = self.open[-1] if self.open else ""
        if enclosing == "style":
            self.page.css.append(data)
        elif enclosing == "title":
            self.page.title += data
        if data.strip():
            self.page.text.append((enclosing, " ".join(data.split())))


def read_page(markup: str) -> Page:
    reader = _Reader()
    reader.feed(markup)
    reader.close()
    return reader.page
