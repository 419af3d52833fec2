"""Markup helpers: escaping, lines that fit a width, and matplotlib's SVG made inline-ready.

Reporters keep every line within ``width`` (the :class:`~hookpoints.plugins.HookReporter`
contract). HTML allows that without changing what the page shows: wherever a space may turn
into a line break (between attributes, between words of text, between the numbers of an
SVG path) the markup carries :data:`SOFT` instead of a space, and :func:`fit` turns each
``SOFT`` into a space or, where a line would be too long, into a line break. A single word
longer than the width (a very long hook-point name) stays whole on its line.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

SOFT = "\x1f"  # a space that may become a line break; never left in the output

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")
_SVG_NS = "{http://www.w3.org/2000/svg}"
_XLINK_NS = "{http://www.w3.org/1999/xlink}"
# Attribute values where any run of spaces (outside quotes) may become a line break.
_BREAKABLE = frozenset({"d", "points", "transform", "viewBox", "style", "class", "content"})
_URL_REF = re.compile(r"url\(#([^)\s]+)\)")


def escape(value: object) -> str:
    """``value`` as HTML text: escaped, control characters replaced, spaces soft."""
    text = _CONTROL.sub("\ufffd", str(value))
    return _SPACE.sub(SOFT, html.escape(text, quote=False))


def _words(value: str) -> list[str]:
    """Split an attribute value at runs of whitespace outside quotes (CSS strings stay whole)."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    for char in value:
        if quote:
            quote = "" if char == quote else quote
            current.append(char)
        elif char in "'\"":
            quote = char
            current.append(char)
        elif char.isspace():
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def _attribute_text(text: str) -> str:
    """Escaped for a double-quoted attribute (single quotes stay readable: CSS, CSP)."""
    return html.escape(text, quote=False).replace('"', "&quot;")


def attr(name: str, value: object, *, breakable: bool = False) -> str:
    """`` name="value"`` (with a soft leading space), the value escaped.

    ``breakable``: the value's whitespace outside quotes may become a line break (path data,
    transforms, CSS declarations, class lists), each run of it normalised to one space.
    """
    text = _CONTROL.sub("\ufffd", str(value))
    if breakable:
        escaped = SOFT.join(_attribute_text(word) for word in _words(text))
    else:
        escaped = _attribute_text(_SPACE.sub(" ", text))
    return f'{SOFT}{name}="{escaped}"'


def css(text: str) -> str:
    """A style sheet with soft breaks wherever it has whitespace outside strings."""
    lines = []
    for line in text.splitlines():
        indent = line[: len(line) - len(line.lstrip(" "))]
        lines.append(indent + SOFT.join(_words(line)))
    return "\n".join(lines)


def fit(markup: str, width: int) -> str:
    """Turn soft breaks into spaces, or into line breaks (indented) where a line is too long."""
    lines: list[str] = []
    for line in markup.split("\n"):
        if SOFT not in line:
            lines.append(line)
            continue
        if len(line) <= width:
            lines.append(line.replace(SOFT, " "))
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")) + 1)
        words = line.split(SOFT)
        current = words[0]
        for word in words[1:]:
            if len(current) + 1 + len(word) <= width:
                current += " " + word
            else:
                lines.append(current)
                current = indent + word
        lines.append(current)
    return "\n".join(line.rstrip() for line in lines)


def _local(name: str) -> str:
    if name.startswith(_XLINK_NS):
        return "xlink:" + name[len(_XLINK_NS) :]
    return name.rsplit("}", 1)[-1]


def inline_svg(svg_text: str, *, prefix: str, label: str) -> str:
    """matplotlib's SVG document as an inline ``<svg>`` element for an HTML page.

    Drops the XML prolog and the RDF metadata (its namespace URLs are not resources, but
    nothing in the page should even look like one), prefixes every ``id`` and reference to
    it with ``prefix`` (several plots share one page, a notebook shows many pages), and adds
    ``role="img"`` with ``label``. Each element starts on its own line, soft breaks inside.
    """
    root = ET.fromstring(svg_text)
    lines: list[str] = []

    def reference(value: str) -> str:
        value = _URL_REF.sub(lambda m: f"url(#{prefix}{m.group(1)})", value)
        return f"#{prefix}{value[1:]}" if value.startswith("#") else value

    def start_tag(element: ET.Element, extra: str = "") -> str:
        tag = _local(element.tag)
        parts = [f"<{tag}"]
        for key, value in element.attrib.items():
            name = _local(key)
            if element is root and name == "version":
                continue
            value = prefix + value if name == "id" else reference(value)
            parts.append(attr(name, value, breakable=name in _BREAKABLE))
        return "".join(parts) + extra

    def inline(element: ET.Element) -> str:
        """An element with mixed content, written without added whitespace."""
        tag = _local(element.tag)
        inner = escape(element.text or "")
        for child in element:
            inner += inline(child) + escape(child.tail or "")
        return f"{start_tag(element)}>{inner}</{tag}>"

    def emit(element: ET.Element, depth: int, extra: str = "") -> None:
        tag = _local(element.tag)
        if tag == "metadata":
            return
        pad = " " * depth
        children = list(element)
        text = (element.text or "").strip()
        if not children:
            body = escape(text)
            lines.append(pad + start_tag(element, extra) + (f">{body}</{tag}>" if body else "/>"))
        elif text or any((child.tail or "").strip() for child in children):
            lines.append(pad + inline(element))
        else:
            lines.append(pad + start_tag(element, extra) + ">")
            for child in children:
                emit(child, depth + 1)
            lines.append(f"{pad}</{tag}>")

    if not root.tag == f"{_SVG_NS}svg":
        raise ValueError(f"expected an SVG document, got <{_local(root.tag)}>")
    extra = attr("class", "hp-plot") + attr("role", "img") + attr("aria-label", label)
    emit(root, 0, extra)
    return "\n".join(lines)
