"""Ordinary (non-Sphinx) HTML pages: trafilatura finds the article; the page gives back anchors and code.

trafilatura (main-text extraction, evaluated on thousands of sites) decides what is the
article and what is page clutter: navigation, banners, cookie notices, sidebars, related
links, footers. Its XML output keeps headings, paragraphs, lists (ordered or not), tables
and code; it becomes plain HTML here for ``SectionWriter``. Two things the index needs are
not in it, so they are restored from the page, matched by text: heading ids (a citation
links to ``page.html#learning-rate``) and code blocks as written (their line breaks and
language; trafilatura flattens a ``<pre>`` inside a list item into a one-line quote).
"""

from __future__ import annotations

from collections import defaultdict, deque

import trafilatura
from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import AttributeValueList
from trafilatura.settings import use_config

from indexing.loaders.common import Parsed, SkippedSource, non_empty
from indexing.loaders.html_text import (
    HEADING_LEVELS,
    SectionWriter,
    code_language,
    heading_anchor,
    inline_text,
)

# Short pages are articles too: below MIN_EXTRACTED_SIZE (default 250 characters)
# trafilatura retries with fallbacks that keep the page chrome.
_CONFIG = use_config()
_CONFIG.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")


def parse_article(html: str, page: BeautifulSoup, page_title: str) -> Parsed:
    """Sections of the article in ``html`` (``page`` is the same page, already parsed)."""
    extracted = trafilatura.extract(
        html,
        output_format="xml",
        include_formatting=True,
        include_tables=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        config=_CONFIG,
    )
    if not extracted:
        raise SkippedSource("empty: no article text found")
    article = as_html(extracted)
    root = article.find("div") or article
    restore_anchors(article, page)
    restore_code(article, page)
    writer = SectionWriter()
    try:
        writer.walk(root)
    except RecursionError as exc:
        raise SkippedSource("HTML nested too deeply to read") from exc
    return Parsed(non_empty(writer.finish()), writer.first_h1 or page_title or None)


# trafilatura's XML elements → HTML (head, list, cell and code depend on attributes or place)
_ELEMENTS = {"main": "div", "p": "p", "item": "li", "quote": "blockquote", "lb": "br"}
_ELEMENTS |= {"table": "table", "row": "tr", "del": "del", "hi": "span", "ref": "span"}
_INLINE = frozenset({"p", "head", "hi", "ref", "del", "code", "lb", "cell"})


def as_html(xml: str) -> BeautifulSoup:
    """trafilatura's XML document as HTML: ``<main>`` becomes the one ``<div>`` to walk."""
    doc = BeautifulSoup(xml, "lxml-xml")
    for dropped in doc.find_all(["comments", "graphic"]):
        dropped.decompose()
    blocks = [code for code in doc.find_all("code") if _is_block(code)]  # before renaming
    for tag in doc.find_all(True):
        rend = str(tag.get("rend") or "")
        if tag.name == "head":
            tag.name = rend if rend in ("h1", "h2", "h3", "h4", "h5", "h6") else "h3"
        elif tag.name == "list":
            tag.name = "ol" if rend == "ol" else "ul"
        elif tag.name == "cell":
            tag.name = "th" if tag.get("role") == "head" else "td"
        elif tag.name == "code":
            tag.name = "pre" if any(tag is block for block in blocks) else "code"
        elif tag.name != "doc":
            tag.name = _ELEMENTS.get(tag.name, "span")
        tag.attrs = {}
    return doc


def _is_block(code: Tag) -> bool:
    """A code block stands between blocks; code inside a sentence is inline."""
    if code.parent is None or code.parent.name in _INLINE:
        return False
    for neighbour in (code.previous_sibling, code.next_sibling):
        if isinstance(neighbour, Tag) and neighbour.name in _INLINE - {"p", "head"}:
            return False
        if isinstance(neighbour, NavigableString) and neighbour.strip():
            return False
    return True


def _key(element: Tag) -> str:
    """Text with all whitespace folded: the same element before and after trafilatura."""
    return " ".join(element.get_text().split())


def restore_anchors(article: BeautifulSoup, page: BeautifulSoup) -> None:
    """Give each extracted heading the id its twin on the page has (in page order)."""
    anchors: dict[tuple[str, str], deque[str | None]] = defaultdict(deque)
    for heading in page.find_all(list(HEADING_LEVELS)):
        text = " ".join(inline_text(heading).split())
        anchors[(heading.name, text)].append(heading_anchor(heading))
    for heading in article.find_all(list(HEADING_LEVELS)):
        found = anchors.get((heading.name, " ".join(inline_text(heading).split())))
        anchor = found.popleft() if found else None
        if anchor:
            heading["id"] = anchor


def restore_code(article: BeautifulSoup, page: BeautifulSoup) -> None:
    """Put back each code block as the page wrote it (lines, language): trafilatura drops
    the language and turns a ``<pre>`` inside a list item into a one-line quote."""
    originals: dict[str, Tag] = {}
    for pre in page.find_all("pre"):
        originals.setdefault(_key(pre), pre)
    for block in article.find_all(["pre", "blockquote"]):
        if block.find_parent("pre") is not None:
            continue  # trafilatura nests <pre><pre>: the outer one is replaced
        original = originals.get(_key(block))
        if original is None:
            continue
        pre = article.new_tag("pre")
        pre.string = original.get_text()
        language = code_language(original)
        if language:
            pre["class"] = AttributeValueList([f"language-{language}"])
        block.replace_with(pre)
