"""Loaders for Markdown, text, reST, PDF and notebooks, and how bad files are refused."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from pypdf import PdfWriter

from assistant.errors import BadInputError
from assistant.types import Document
from indexing.loaders import SUPPORTED_SUFFIXES, SkippedSource, load_bytes, load_file
from tests.conftest import CORPUS

MAX = 1_000_000


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def load(tmp_path: Path, name: str, content: str | bytes, **kwargs: Any) -> Document:
    return load_file(write(tmp_path, name, content), name, max_bytes=MAX, **kwargs)


def skipped(tmp_path: Path, name: str, content: str | bytes, max_bytes: int = MAX) -> str:
    with pytest.raises(SkippedSource) as info:
        load_file(write(tmp_path, name, content), name, max_bytes=max_bytes)
    return info.value.reason


# --- Markdown -------------------------------------------------------------------------

MARKDOWN = """\
Intro text before any heading.

# Study Guide

Welcome.

<!-- a note for editors: never indexed -->

## Phase 4: Data Handling & Analysis (CRITICAL)

Use **pandas**.

<br/>

```python
# this is a comment, not a heading
def f():
    return 1


# still code
```

### Libraries

| name | use |
| ---- | --- |
| numpy | arrays |

* item one
* item two

##### Small heading stays in the text

<!--
## Commented-out heading
-->

~~~
## tilde fence, not a heading
~~~

## Phase 4: Data Handling & Analysis (CRITICAL)

Second section with the same title.

## Empty

## [Linked `code` heading](https://example.com) ##

Body.
"""


def test_markdown_splits_on_headings_with_paths_and_slugs(tmp_path: Path) -> None:
    doc = load(tmp_path, "guide.md", MARKDOWN, phases=(4,))
    assert doc.title == "Study Guide"
    assert doc.kind == "markdown"
    assert doc.url is None
    assert doc.source == "guide.md"
    assert doc.phases == (4,)
    got = [(s.headings, s.anchor) for s in doc.sections]
    assert got == [
        ((), None),
        (("Study Guide",), "study-guide"),
        (
            ("Study Guide", "Phase 4: Data Handling & Analysis (CRITICAL)"),
            "phase-4-data-handling--analysis-critical",
        ),
        (
            ("Study Guide", "Phase 4: Data Handling & Analysis (CRITICAL)", "Libraries"),
            "libraries",
        ),
        (
            ("Study Guide", "Phase 4: Data Handling & Analysis (CRITICAL)"),
            "phase-4-data-handling--analysis-critical-1",  # GitHub numbers repeated slugs
        ),
        (("Study Guide", "Linked code heading"), "linked-code-heading"),
    ]
    assert doc.sections[0].text == "Intro text before any heading."


def test_markdown_keeps_code_tables_and_lists_and_drops_comments(tmp_path: Path) -> None:
    doc = load(tmp_path, "guide.md", MARKDOWN)
    phase = doc.sections[2].text
    assert "# this is a comment, not a heading" in phase
    assert "def f():\n    return 1\n\n\n# still code\n```" in phase  # code kept byte for byte
    assert "<br" not in doc.text
    assert "never indexed" not in doc.text
    assert "Commented-out heading" not in doc.text
    libraries = doc.sections[3].text
    assert "| name | use |\n| ---- | --- |\n| numpy | arrays |" in libraries
    assert "* item one\n* item two" in libraries
    assert "##### Small heading stays in the text" in libraries
    assert "~~~\n## tilde fence, not a heading\n~~~" in libraries
    assert all(s.text.strip() for s in doc.sections)  # "## Empty" made no section
    assert "\n\n\n" not in libraries  # blank runs outside code folded


def test_markdown_title_explicit_then_h1_then_stem(tmp_path: Path) -> None:
    assert load(tmp_path, "a.md", MARKDOWN, title="Given").title == "Given"
    no_h1 = load(tmp_path, "phase-notes.md", "## Only an H2\n\ntext\n")
    assert no_h1.title == "phase-notes"
    assert no_h1.sections[0].headings == ("Only an H2",)  # the title is not prepended


def test_markdown_front_matter_is_dropped_and_gives_the_title(tmp_path: Path) -> None:
    doc = load(tmp_path, "post.md", '---\ntitle: "Front Title"\nlayout: post\n---\nBody text.\n')
    assert doc.title == "Front Title"
    assert doc.text == "Body text."


def test_unclosed_fence_runs_to_the_end(tmp_path: Path) -> None:
    doc = load(tmp_path, "x.md", "# A\n\n```\n# not a heading\n")
    assert [s.headings for s in doc.sections] == [("A",)]
    assert "# not a heading" in doc.text


def test_real_roadmap_loads(tmp_path: Path) -> None:
    doc = load_file(CORPUS / "roadmap.md", "roadmap.md", max_bytes=MAX)
    assert doc.title == "Machine Learning Engineer Roadmap (2026)"
    anchors = [s.anchor for s in doc.sections]
    assert "phase-4-data-handling--analysis-critical" in anchors
    assert "<br/>" not in doc.text
    assert len(doc.sections) > 20


# --- plain text and reST --------------------------------------------------------------


def test_plain_text_is_one_section(tmp_path: Path) -> None:
    doc = load(tmp_path, "notes.txt", "line one\n\n\n\n# not a heading in text\n")
    assert doc.kind == "text"
    assert doc.title == "notes"
    assert [(s.headings, s.text) for s in doc.sections] == [
        ((), "line one\n\n# not a heading in text")
    ]


def test_rst_underlined_and_overlined_titles(tmp_path: Path) -> None:
    rst = """\
==============
 The Document
==============

Opening words.

First Part
----------

Part text.

Sub part
~~~~~~~~

Deep text.

Second Part
-----------

More text.
"""
    doc = load(tmp_path, "doc.rst", rst)
    assert doc.title == "The Document"
    assert [(s.headings, s.anchor, s.text) for s in doc.sections] == [
        (("The Document",), "the-document", "Opening words."),
        (("The Document", "First Part"), "first-part", "Part text."),
        (("The Document", "First Part", "Sub part"), "sub-part", "Deep text."),
        (("The Document", "Second Part"), "second-part", "More text."),
    ]


# --- bad files ------------------------------------------------------------------------


def test_binary_file_is_skipped(tmp_path: Path) -> None:
    assert skipped(tmp_path, "image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") == "binary file"


def test_latin1_file_is_refused_not_mangled(tmp_path: Path) -> None:
    reason = skipped(tmp_path, "cafe.md", "Café au lait".encode("latin-1"))
    assert reason.startswith("not valid UTF-8")
    assert "0xe9" in reason
    assert "offset 3" in reason


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    doc = load(tmp_path, "bom.md", b"\xef\xbb\xbf# Title\n\ntext\n")
    assert doc.title == "Title"
    assert doc.sections[0].text == "text"


def test_utf16_is_refused_with_a_hint(tmp_path: Path) -> None:
    reason = skipped(tmp_path, "wide.txt", "hello".encode("utf-16"))
    assert "UTF-16" in reason


@pytest.mark.parametrize("content", ["", "   \n\t\n"])
def test_empty_or_blank_file_is_skipped(tmp_path: Path, content: str) -> None:
    assert skipped(tmp_path, "blank.md", content) == "empty"


def test_markup_only_file_is_empty(tmp_path: Path) -> None:
    assert skipped(tmp_path, "c.md", "<!-- only a comment -->\n<br/>\n# \n").startswith("empty")


def test_too_large_is_checked_before_reading(tmp_path: Path) -> None:
    assert skipped(tmp_path, "big.txt", "x" * 101, max_bytes=100) == "too large: 101 bytes > 100"


def test_directory_or_fifo_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "folder.md").mkdir()
    os.mkfifo(tmp_path / "pipe.md")  # opening it would block forever
    for name in ("folder.md", "pipe.md"):
        with pytest.raises(SkippedSource, match="not a regular file"):
            load_file(tmp_path / name, name, max_bytes=MAX)


def test_missing_file_and_unsupported_suffix(tmp_path: Path) -> None:
    with pytest.raises(SkippedSource, match="not found"):
        load_file(tmp_path / "gone.md", "gone.md", max_bytes=MAX)
    assert skipped(tmp_path, "data.csv", "a,b") == "unsupported file type '.csv'"


def test_skipped_source_is_a_bad_input_error() -> None:
    assert issubclass(SkippedSource, BadInputError)
    assert SkippedSource("empty").reason == "empty"


def test_supported_suffixes() -> None:
    expected = {
        ".md",
        ".markdown",
        ".txt",
        ".rst",
        ".html",
        ".htm",
        ".pdf",
        ".ipynb",
    }
    assert expected == SUPPORTED_SUFFIXES


# --- PDF ------------------------------------------------------------------------------


def make_pdf(
    pages: list[str], title: str | None = None, outline: list[tuple[str, int]] | None = None
) -> bytes:
    """A minimal valid PDF with one Helvetica text line per page, written by hand."""
    n = len(pages)
    page_ids = [4 + 2 * i for i in range(n)]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R"
        + (b" /Outlines %d 0 R" % (4 + 2 * n + 1) if outline else b"")
        + b" >>",
        2: b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % p for p in page_ids), n),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for pid, text in zip(page_ids, pages, strict=True):
        stream = b"BT /F1 18 Tf 72 720 Td (%s) Tj ET" % text.encode("latin-1")
        objects[pid] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (pid + 1)
        )
        objects[pid + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    info_id = 4 + 2 * n
    objects[info_id] = b"<< /Title (%s) >>" % (title or "").encode()
    if outline:
        root = info_id + 1
        items = [root + 1 + i for i in range(len(outline))]
        objects[root] = b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>" % (
            items[0],
            items[-1],
            len(items),
        )
        for i, (name, page) in enumerate(outline):
            links = b""
            if i > 0:
                links += b" /Prev %d 0 R" % items[i - 1]
            if i < len(items) - 1:
                links += b" /Next %d 0 R" % items[i + 1]
            objects[items[i]] = b"<< /Title (%s) /Parent %d 0 R /Dest [%d 0 R /Fit]%s >>" % (
                name.encode(),
                root,
                page_ids[page],
                links,
            )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets: dict[int, int] = {}
    for oid in sorted(objects):
        offsets[oid] = out.tell()
        out.write(b"%d 0 obj\n%s\nendobj\n" % (oid, objects[oid]))
    xref = out.tell()
    size = max(objects) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for oid in range(1, size):
        out.write(b"%010d 00000 n \n" % offsets[oid])
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (size, info_id, xref)
    )
    return out.getvalue()


def test_pdf_one_section_per_page(tmp_path: Path) -> None:
    doc = load(tmp_path, "notes.pdf", make_pdf(["Hello PDF page one", "Second page text"]))
    assert doc.kind == "pdf"
    assert doc.title == "notes"
    assert [(s.headings, s.anchor, s.text) for s in doc.sections] == [
        (("Page 1",), "page=1", "Hello PDF page one"),
        (("Page 2",), "page=2", "Second page text"),
    ]


def test_pdf_outline_and_metadata_title(tmp_path: Path) -> None:
    pdf = make_pdf(
        ["Intro words", "Chapter words", "More chapter words"],
        title="Study Notes",
        outline=[("Introduction", 0), ("Chapter Two", 1)],
    )
    doc = load(tmp_path, "notes.pdf", pdf)
    assert doc.title == "Study Notes"
    assert [s.headings for s in doc.sections] == [
        ("Introduction", "Page 1"),
        ("Chapter Two", "Page 2"),
        ("Chapter Two", "Page 3"),  # a chapter runs on until the next bookmark
    ]


def test_pdf_without_text_is_empty(tmp_path: Path) -> None:
    assert skipped(tmp_path, "scan.pdf", make_pdf([""])).startswith("empty")


@pytest.mark.parametrize(
    "data", [b"%PDF-1.4\nthis is not a pdf", b"", b"\x00\x01\x02 random bytes"]
)
def test_corrupt_pdf_is_skipped(tmp_path: Path, data: bytes) -> None:
    assert skipped(tmp_path, "broken.pdf", data).startswith("corrupt PDF: ")


def test_truncated_pdf_is_skipped(tmp_path: Path) -> None:
    pdf = make_pdf(["Hello PDF page one"])
    reason = skipped(tmp_path, "cut.pdf", pdf[: len(pdf) // 3])
    assert reason.startswith(("corrupt PDF: ", "empty"))


def test_encrypted_pdf_is_skipped_unless_the_user_password_is_empty(tmp_path: Path) -> None:
    locked = PdfWriter()
    locked.add_blank_page(200, 200)
    locked.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    locked.write(buffer)
    assert skipped(tmp_path, "locked.pdf", buffer.getvalue()) == "encrypted PDF (needs a password)"


# --- notebooks ------------------------------------------------------------------------


def make_notebook() -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["language_info"] = {"name": "python"}
    code = nbformat.v4.new_code_cell("import numpy as np\n# a comment, not a heading\nnp.ones(3)")
    code.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "array([1., 1., 1.])"})]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# NumPy Basics\n\nArrays first."),
        code,
        nbformat.v4.new_markdown_cell("## Broadcasting\n\nShapes align from the right."),
        nbformat.v4.new_raw_cell("\\LaTeX only"),
        nbformat.v4.new_code_cell("a + b"),
    ]
    return nbformat.writes(nb)


def test_notebook_markdown_and_code_cells(tmp_path: Path) -> None:
    doc = load(tmp_path, "basics.ipynb", make_notebook())
    assert doc.kind == "notebook"
    assert doc.title == "NumPy Basics"
    assert [s.headings for s in doc.sections] == [
        ("NumPy Basics",),
        ("NumPy Basics", "Broadcasting"),
    ]
    first = doc.sections[0].text
    assert first.startswith("Arrays first.")
    assert "```python\nimport numpy as np\n# a comment, not a heading\nnp.ones(3)\n```" in first
    assert "array([1., 1., 1.])" not in doc.text  # outputs dropped
    assert "LaTeX" not in doc.text  # raw cells dropped
    assert doc.sections[1].text.endswith("```python\na + b\n```")


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"cells": "nope"}',
        "[]",
        # nbformat only logs these schema errors; the loader must still refuse cleanly
        '{"cells": [1], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        '{"cells": [], "metadata": {"language_info": 3}, "nbformat": 4, "nbformat_minor": 5}',
    ],
)
def test_invalid_notebook_is_skipped(tmp_path: Path, content: str) -> None:
    assert skipped(tmp_path, "bad.ipynb", content).startswith("invalid notebook: ")


def test_version_3_notebook_is_upgraded(tmp_path: Path) -> None:
    v3 = (
        '{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": ['
        '{"cell_type": "markdown", "source": "# Old Format\\n\\nStill read."}]}]}'
    )
    doc = load(tmp_path, "old.ipynb", v3)
    assert doc.title == "Old Format"
    assert doc.sections[0].text == "Still read."


# --- bytes from URLs ------------------------------------------------------------------


def test_load_bytes_dispatches_on_content_type_then_suffix() -> None:
    url = "https://raw.githubusercontent.com/org/repo/main/docs/guide.md"
    doc = load_bytes(b"# Guide\n\ntext\n", url, content_type="text/plain; charset=utf-8", url=url)
    assert doc.url == url
    assert doc.kind == "url"
    assert doc.title == "Guide"
    assert doc.sections[0].anchor == "guide"  # parsed as Markdown despite text/plain
    plain = load_bytes(
        b"just text", "https://x.org/notes", content_type="text/plain", url="https://x.org/notes"
    )
    assert plain.title == "notes"
    pdf = load_bytes(
        make_pdf(["Page text"]), "u", content_type="application/pdf", url="https://x.org/f"
    )
    assert pdf.sections[0].text == "Page text"


def test_load_bytes_honours_a_declared_charset() -> None:
    doc = load_bytes(
        "# Café\n\ncrème".encode("latin-1"), "u", content_type="text/markdown; charset=ISO-8859-1"
    )
    assert doc.title == "Café"
    assert doc.sections[0].text == "crème"


def test_load_bytes_refuses_unsupported_content() -> None:
    with pytest.raises(SkippedSource, match="unsupported content type 'image/png'"):
        load_bytes(b"\x89PNG", "https://x.org/a.png", content_type="image/png")
    with pytest.raises(SkippedSource, match="unknown charset 'klingon'"):
        load_bytes(b"x", "u", content_type="text/plain; charset=klingon")
