"""The Markdown loader as a CommonMark parser: setext headings, front matter, fences, tables.

tests/indexing/test_loaders.py holds the older cases (ATX paths and slugs, comments, the
real roadmap); these are the ones a line-by-line reader of ``#`` got wrong.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from assistant.types import Document
from indexing.loaders import load_file
from indexing.loaders.markdown import heading_text, parse_markdown

MAX = 1_000_000


def load(tmp_path: Path, name: str, content: str) -> Document:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return load_file(path, name, max_bytes=MAX)


SETEXT = """\
Gradient Descent
================

Take a step downhill.

Learning rate
-------------

Too big diverges.

### Schedules

Cosine or step.
"""


def test_setext_headings_open_sections_like_atx_ones(tmp_path: Path) -> None:
    doc = load(tmp_path, "gd.md", SETEXT)
    assert doc.title == "Gradient Descent"
    assert [(s.headings, s.anchor, s.text) for s in doc.sections] == [
        (("Gradient Descent",), "gradient-descent", "Take a step downhill."),
        (("Gradient Descent", "Learning rate"), "learning-rate", "Too big diverges."),
        (
            ("Gradient Descent", "Learning rate", "Schedules"),
            "schedules",
            "Cosine or step.",
        ),
    ]
    assert "=====" not in doc.text and "-----" not in doc.text


def test_a_rule_after_a_blank_line_is_not_a_heading(tmp_path: Path) -> None:
    # CommonMark: "---" right under a paragraph underlines it (h2); after a blank line it
    # is a thematic break and the paragraph stays text.
    doc = load(tmp_path, "rule.md", "# Top\n\nA paragraph.\n\n---\n\nMore text.\n")
    assert [s.headings for s in doc.sections] == [("Top",)]
    assert doc.sections[0].text == "A paragraph.\n\n---\n\nMore text."


FRONT_MATTER = """\
---
title: "Bias and Variance"
tags: [statistics, model selection]
layout: post
date: 2026-01-05
---
# Heading In The Body

Underfitting and overfitting.
"""


def test_front_matter_gives_title_and_tags_and_never_reaches_the_text(tmp_path: Path) -> None:
    doc = load(tmp_path, "post.md", FRONT_MATTER)
    assert doc.title == "Bias and Variance"  # declared metadata wins over the body's H1
    assert doc.tags == ("statistics", "model selection")
    assert [s.headings for s in doc.sections] == [("Heading In The Body",)]
    assert doc.text == "Underfitting and overfitting."
    for meta in ("layout", "post", "2026", "tags", "---"):
        assert meta not in doc.text


def test_front_matter_tags_as_one_comma_separated_string() -> None:
    parsed = parse_markdown("---\ntags: pandas, numpy ,pandas\n---\nBody.\n")
    assert parsed.tags == ("pandas", "numpy")  # order kept, repeats dropped
    assert parsed.title is None


def test_unreadable_front_matter_is_dropped_with_a_warning_and_the_body_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="indexing.loaders.markdown"):
        doc = load(tmp_path, "broken.md", "---\ntitle: [unclosed\n---\n## Body\n\nText.\n")
    assert "front matter is not valid YAML" in caplog.text
    assert doc.title == "broken"  # no front-matter title, no H1: the file stem
    assert doc.tags == ()
    assert doc.text == "Text."


def test_a_rule_that_does_not_open_the_file_is_not_front_matter(tmp_path: Path) -> None:
    doc = load(tmp_path, "late.md", "# Notes\n\nIntro.\n\n---\n\ntitle: no\n\n---\n")
    assert doc.title == "Notes"
    assert "title: no" in doc.text


CODE = """\
# Shell Basics

    # an indented code block: not a heading
    ls -la

1. Install:

   ```bash
   # inside a fence inside a list: not a heading
   pip install numpy
   ```

~~~python
## neither is this
x = 1
~~~

> # A heading inside a quote stays quoted text

| flag | meaning |
| ---- | ------- |
| `-l` | long listing |
| `-a` | show hidden files |

## Next
"""


def test_hash_lines_in_code_and_quotes_are_not_headings_and_tables_are_kept(
    tmp_path: Path,
) -> None:
    doc = load(tmp_path, "shell.md", CODE)
    assert [s.headings for s in doc.sections] == [("Shell Basics",)]  # "## Next" is empty
    text = doc.sections[0].text
    assert "    # an indented code block: not a heading\n    ls -la" in text
    assert (
        "   ```bash\n   # inside a fence inside a list: not a heading\n   pip install numpy\n   ```"
        in text
    )
    assert "~~~python\n## neither is this\nx = 1\n~~~" in text
    assert "> # A heading inside a quote stays quoted text" in text
    assert (
        "| flag | meaning |\n| ---- | ------- |\n| `-l` | long listing |\n"
        "| `-a` | show hidden files |"
    ) in text


def test_comment_inside_a_paragraph_and_trailing_text_after_a_comment() -> None:
    parsed = parse_markdown("# T\n\nKeep <!-- hidden\nstill hidden --> this.\n\n<!-- x --> tail\n")
    text = parsed.sections[0].text
    assert "hidden" not in text and "<!--" not in text
    assert text.split() == ["Keep", "this.", "tail"]  # what follows a comment is kept


def test_heading_text_is_what_a_reader_sees() -> None:
    assert heading_text("[Linked `code` heading](https://example.com)") == "Linked code heading"
    assert heading_text("**Bold** and _em_ ![logo](x.png) &amp; <b>tag</b>") == (
        "Bold and em logo & tag"
    )


def test_front_matter_values_that_are_not_text_are_ignored() -> None:
    # An alias-built nest would be huge as text ("billion laughs"); only scalars are read.
    front = (
        "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\ntitle: {nested: *c}\ntags: [ok, *c, 7]\n---\n"
        "Body.\n"
    )
    parsed = parse_markdown(front)
    assert parsed.title is None
    assert parsed.tags == ("ok", "7")
    assert parsed.sections[0].text == "Body."
