"""HTML → heading sections: Sphinx pages by their own markup, other pages through trafilatura.

A Sphinx page (the Python docs, Read the Docs, furo, pydata) is read from its markup: the
body, headings with their ids, object descriptions (``#functools.cache``), code, and its
chrome is known (sidebar, related bar, permalinks), so citations link to exact anchors. Any
other page goes to ``html_article.py``: trafilatura tells the article from the page clutter.
The text walk itself lives in ``html_text.py``.
"""

from __future__ import annotations

import re
from typing import Any

from bs4 import BeautifulSoup, Tag

from indexing.loaders.common import Parsed, SkippedSource, decode_text, non_empty
from indexing.loaders.html_article import parse_article
from indexing.loaders.html_text import SectionWriter

# Where the content is, most specific first: Sphinx (role=main / div.body), then HTML5.
_MAIN_FINDERS: tuple[tuple[str | bool, dict[str, Any]], ...] = (
    ("div", {"role": "main"}),
    ("article", {"role": "main"}),
    ("div", {"class": "body"}),
    ("main", {}),
    (True, {"role": "main"}),  # True: any element
)
# Sphinx page chrome, dropped wherever it appears inside the content.
_NOISE_TAGS = frozenset(
    {
        *("nav", "aside", "footer", "script", "style", "noscript", "form", "template"),
        *("iframe", "svg", "button", "select", "input", "textarea"),
    }
)
_NOISE_CLASSES = frozenset(
    {"sphinxsidebar", "related", "headerlink", "skip-link", "skip-to-content"}
)
_NOISE_ROLES = frozenset({"navigation", "search", "banner", "contentinfo"})
# What marks a page as Sphinx (or plain docutils) output.
_GENERATOR = re.compile(r"\b(?:sphinx|docutils)\b", re.IGNORECASE)
_OPTIONS_SCRIPT = re.compile(r"(?:^|/)documentation_options\.js(?:$|\?)")
_SPHINX_CLASSES = ["sphinxsidebar", "documentwrapper", "sig-object"]
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)


def parse_html(data: bytes, charset: str | None = None) -> Parsed:
    """Sections of an HTML page; title = first <h1> of the content, else <title>.

    Sphinx pages are walked here; any other page is handed to ``parse_article``.

    ``charset`` is the one from the Content-Type header; without it the page's own
    ``<meta charset>`` counts, then UTF-8.
    """
    if charset is None:
        declared = _META_CHARSET.search(data[:4096])
        charset = declared.group(1).decode("ascii") if declared else None
    text = decode_text(data, charset)
    soup = BeautifulSoup(text, "lxml")
    page_title = " ".join(soup.title.get_text().split()) if soup.title else ""
    if not is_sphinx(soup):
        return parse_article(text, soup, page_title)
    root = main_content(soup)
    drop_chrome(root)
    writer = SectionWriter()
    try:
        writer.walk(root)
    except RecursionError as exc:
        raise SkippedSource("HTML nested too deeply to read") from exc
    sections = non_empty(writer.finish())
    return Parsed(sections, writer.first_h1 or page_title or None)


def is_sphinx(soup: BeautifulSoup) -> bool:
    """Sphinx or docutils output: by its generator tag, its options script, or its markup."""
    generator = soup.find("meta", attrs={"name": "generator"})
    if isinstance(generator, Tag) and _GENERATOR.search(str(generator.get("content") or "")):
        return True
    if soup.find("script", src=_OPTIONS_SCRIPT) is not None:
        return True
    # A page saved without its <head> still has Sphinx's own classes.
    return soup.find(class_=_SPHINX_CLASSES) is not None


def main_content(soup: BeautifulSoup) -> Tag:
    """The element holding the page's content: Sphinx body, <main>, one <article>, or <body>."""
    for name, attrs in _MAIN_FINDERS:
        found = soup.find(name, attrs=attrs)
        if isinstance(found, Tag):
            return found
    articles = soup.find_all("article")
    if len(articles) == 1 and isinstance(articles[0], Tag):
        return articles[0]
    return soup.body if soup.body is not None else soup


def drop_chrome(root: Tag) -> None:
    """Remove a Sphinx page's navigation, sidebars, scripts and permalink marks.

    One pass in Python: CSS selectors (soupsieve) cost seconds on a large Sphinx page.
    """
    in_article = root.name in ("main", "article")
    doomed: list[Tag] = []
    stack = [root]
    while stack:  # iterative: real pages can nest deeper than Python's recursion limit
        for child in stack.pop().children:
            if isinstance(child, Tag):
                (doomed if _is_chrome(child, in_article) else stack).append(child)
    for tag in doomed:
        tag.decompose()


def _is_chrome(tag: Tag, in_article: bool) -> bool:
    if tag.name in _NOISE_TAGS or tag.get("role") in _NOISE_ROLES:
        return True
    classes: list[str] = list(tag.get("class") or [])
    if _NOISE_CLASSES.intersection(classes):
        return True
    if tag.name == "header":
        # Inside <main>/<article> a <header> holds the article's <h1>; elsewhere it is the
        # site banner.
        return not in_article and tag.find_parent(["main", "article"]) is None
    return False
