"""Walk cleaned HTML into sections: h1–h4 open sections, <pre> becomes fenced code.

Sphinx object descriptions (``<dl class="py function"><dt id="functools.cache">``) also open
a section, named by the object, so a citation can point at ``#functools.cache``.
"""

from __future__ import annotations

import re

from bs4 import NavigableString, PageElement, Tag
from bs4.element import PreformattedString

from assistant.types import Section

HEADING_LEVELS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4}
_OBJECT_LEVEL = 100  # object descriptions nest below any real heading
_INLINE_TAGS = frozenset(
    {
        *("a", "abbr", "b", "bdi", "bdo", "br", "cite", "code", "data", "del", "dfn", "em"),
        *("i", "img", "ins", "kbd", "label", "mark", "math", "q", "s", "samp", "small"),
        *("span", "strong", "sub", "sup", "time", "u", "var", "wbr"),
    }
)
_SKIPPED_TAGS = frozenset(("img", "hr", "head", "title", "meta", "link"))
_GAP_TAGS = frozenset(("p", "div", "li", "dt", "dd", "tr", "td", "th", "pre"))
_MAX_DEPTH = 150  # deeper block nesting is flattened to text instead of walked recursively
_STRUCTURED = ["pre", "table", "ul", "ol", "dl"]  # kept in shape inside list items
_SPACES = re.compile(r"\s+")
_HIGHLIGHT = re.compile(r"^(?:highlight|language|lang)-([\w+#-]+)$")
_LANGUAGE_ALIASES = {
    "python3": "python",
    "py": "python",
    "default": "python",
    "none": "",
    "text": "",
}


def inline_text(node: PageElement) -> str:
    """Visible text of an element on one line; ``<br>`` becomes a line break."""
    parts: list[str] = []
    _collect_inline(node, parts)
    return _tidy_inline("".join(parts))


def _tidy_inline(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()


def _collect_inline(node: PageElement, parts: list[str]) -> None:
    """Append the text of ``node`` (iteratively: inline markup can nest arbitrarily deep)."""
    nodes = [node, *node.descendants] if isinstance(node, Tag) else [node]
    for item in nodes:
        if isinstance(item, NavigableString):
            if not isinstance(item, PreformattedString):  # comments, CDATA, doctype
                parts.append(_SPACES.sub(" ", str(item)))
        elif isinstance(item, Tag):
            if item.name == "br":
                parts.append("\n")
            elif item.name in _GAP_TAGS:
                parts.append(" ")  # block children flattened into a line still need a gap


def code_block(pre: Tag) -> str:
    """A ``<pre>`` as a fenced block, its text untouched, fence longer than any run inside."""
    code = pre.get_text().strip("\n")
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{code_language(pre)}\n{code}\n{fence}"


def code_language(pre: Tag) -> str:
    """The language named by Sphinx (``highlight-python3``) or ``language-x`` classes."""
    code = pre.find("code")
    candidates = [pre, *([code] if isinstance(code, Tag) else []), *pre.parents]
    for element in candidates[:5]:
        for cls in element.get("class") or []:
            match = _HIGHLIGHT.match(cls)
            if match:
                name = match.group(1).lower()
                return _LANGUAGE_ALIASES.get(name, name)
    return ""


def table_text(table: Tag) -> str:
    """A table as pipe-separated rows; a header row gets a Markdown separator."""
    rows: list[list[str]] = []
    header = False
    for i, tr in enumerate(table.find_all("tr")):
        cells = tr.find_all(["th", "td"], recursive=False)
        texts = [inline_text(c).replace("\n", " ").replace("|", "\\|") for c in cells]
        if any(texts):
            rows.append(texts)
            header = header or (i == 0 and all(c.name == "th" for c in cells))
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    if header and lines:
        lines.insert(1, "|" + " --- |" * max(len(row) for row in rows))
    return "\n".join(lines)


def list_text(lst: Tag, depth: int = 0) -> str:
    """A <ul>/<ol> as Markdown list items, nested lists indented two spaces per level."""
    lines: list[str] = []
    indent = "  " * depth
    for n, li in enumerate(lst.find_all("li", recursive=False), start=1):
        marker = f"{n}." if lst.name == "ol" else "-"
        words: list[str] = []
        blocks: list[str] = []
        for child in li.children:
            if isinstance(child, Tag) and child.name in ("ul", "ol"):
                blocks.append(list_text(child, depth + 1))
            elif isinstance(child, Tag) and (
                child.name in _STRUCTURED or child.find(_STRUCTURED) is not None
            ):
                blocks.append(_indent(_rendered(child), indent + "  "))
            else:
                words.append(inline_text(child))
        head = " ".join(w for w in words if w).replace("\n", " ")
        lines.append(f"{indent}{marker} {head}".rstrip())
        lines.extend(b for b in blocks if b.strip())
    return "\n".join(lines)


def _rendered(tag: Tag) -> str:
    """A block element (code, table, nested list inside a wrapper) rendered on its own."""
    writer = SectionWriter()
    writer.walk_block(tag)
    return "\n\n".join(section.text for section in writer.finish())


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.split("\n"))


class SectionWriter:
    """Accumulates blocks under the current heading path and cuts sections at headings."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.first_h1: str | None = None
        self._stack: list[tuple[int, str, str | None]] = []  # (level, heading, anchor)
        self._blocks: list[str] = []
        self._depth = 0  # nesting of walk() calls

    def finish(self) -> list[Section]:
        self._flush()
        return self.sections

    def walk(self, element: Tag) -> None:
        """Emit the blocks of ``element``; runs of inline children form one paragraph."""
        if self._depth >= _MAX_DEPTH:
            self._add(inline_text(element))
            return
        self._depth += 1
        run: list[PageElement] = []
        for child in element.children:
            if isinstance(child, NavigableString) or (
                isinstance(child, Tag) and child.name in _INLINE_TAGS
            ):
                run.append(child)
                continue
            self._paragraph(run)
            run = []
            if isinstance(child, Tag):
                self._block(child)
        self._paragraph(run)
        self._depth -= 1

    def walk_block(self, tag: Tag) -> None:
        """Emit one block-level element."""
        self._block(tag)

    def _block(self, tag: Tag) -> None:
        name = tag.name
        if name in HEADING_LEVELS:
            self._heading(
                HEADING_LEVELS[name], inline_text(tag).replace("\n", " "), heading_anchor(tag)
            )
        elif name == "pre":
            self._add(code_block(tag))
        elif name in ("ul", "ol"):
            self._add(list_text(tag))
        elif name == "table":
            self._add(table_text(tag))
        elif name == "dl":
            self._definitions(tag)
        elif name in ("p", "h5", "h6", "dt", "caption", "figcaption", "summary"):
            self._add(inline_text(tag))
        elif name not in _SKIPPED_TAGS:
            self.walk(tag)

    def _paragraph(self, run: list[PageElement]) -> None:
        parts: list[str] = []
        for node in run:
            _collect_inline(node, parts)
        self._add(_tidy_inline("".join(parts)))

    def _add(self, block: str) -> None:
        if block.strip():
            self._blocks.append(block)

    def _heading(self, level: int, text: str, anchor: str | None) -> None:
        if not text:
            return
        self._flush()
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text, anchor))
        if level == 1 and self.first_h1 is None:
            self.first_h1 = text

    def _definitions(self, dl: Tag) -> None:
        """A <dl>; a Sphinx object description opens a section named by the object's id."""
        saved = list(self._stack)
        opened = False
        for child in dl.children:
            if not isinstance(child, Tag):
                continue
            object_id = child.get("id") if child.name == "dt" else None
            if isinstance(object_id, str) and "sig" in (child.get("class") or []) and not opened:
                depth = sum(1 for level, _, _ in saved if level >= _OBJECT_LEVEL)
                self._heading(_OBJECT_LEVEL + depth, object_id, object_id)
                opened = True
            if child.name == "dt":
                self._add(inline_text(child).replace("\n", " "))
            elif child.name == "dd":
                self.walk(child)
        if opened:
            self._flush()
            self._stack = saved

    def _flush(self) -> None:
        if self._blocks:
            self.sections.append(
                Section(
                    headings=tuple(text for _, text, _ in self._stack),
                    text="\n\n".join(self._blocks),
                    anchor=self._stack[-1][2] if self._stack else None,
                )
            )
        self._blocks = []


def heading_anchor(heading: Tag) -> str | None:
    """The id a link to this heading uses: its own, its <section>'s, or an <a id> inside it."""
    own = heading.get("id")
    if isinstance(own, str) and own:
        return own
    parent = heading.parent
    is_section = isinstance(parent, Tag) and (
        parent.name == "section" or "section" in (parent.get("class") or [])
    )
    # Only the section's own (first) heading shares its id; a later one would mislead.
    if isinstance(parent, Tag) and is_section and parent.find(list(HEADING_LEVELS)) is heading:
        pid = parent.get("id")
        if isinstance(pid, str) and pid:
            return pid
    target = heading.find(["a", "span"], id=True)
    if isinstance(target, Tag):
        tid = target.get("id")
        return tid if isinstance(tid, str) else None
    return None
