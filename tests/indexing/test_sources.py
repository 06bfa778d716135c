"""sources.toml and folder discovery: what is ingested, what is refused and why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.errors import BadInputError
from indexing.sources import resolve_sources
from tests.conftest import build_corpus_index
from tests.indexing.minicorpus import published_chunks, write_corpus


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def toml(root: Path, text: str) -> Path:
    return write(root, "sources.toml", text)


def sources(root: Path) -> dict[str, tuple[str | None, tuple[int, ...], str | None]]:
    return {i.source: (i.title, i.phases, i.url) for i in resolve_sources(root).items}


def refused(root: Path) -> dict[str, str]:
    return dict(resolve_sources(root).refused)


# --- sources.toml ------------------------------------------------------------------------


def test_path_glob_folder_and_url_entries(tmp_path: Path) -> None:
    write(tmp_path, "one.md", "# One\n\ntext\n")
    write(tmp_path, "notes/a.md", "# A\n\ntext\n")
    write(tmp_path, "notes/b.md", "# B\n\ntext\n")
    write(tmp_path, "notes/skip.txt", "not matched by the glob\n")
    write(tmp_path, "docs/guide.html", "<h1>Guide</h1><p>text</p>")
    write(tmp_path, "docs/deep/page.rst", "Page\n====\n\ntext\n")
    write(tmp_path, "docs/image.png", b"\x89PNG\r\n")
    write(tmp_path, "docs/.hidden/secret.md", "# no\n")
    toml(
        tmp_path,
        """
[[source]]
path = "one.md"
title = "The first"
phases = [2, 1, 2]

[[source]]
path = "notes/*.md"
phases = [4]

[[source]]
path = "docs"

[[source]]
url = "https://scikit-learn.org/stable/modules/linear_model.html"
title = "scikit-learn: Linear models"
phases = [5]
""",
    )
    found = sources(tmp_path)
    assert found == {
        "one.md": ("The first", (1, 2), None),
        "notes/a.md": (None, (4,), None),
        "notes/b.md": (None, (4,), None),
        "docs/deep/page.rst": (None, (), None),
        "docs/guide.html": (None, (), None),
        "https://scikit-learn.org/stable/modules/linear_model.html": (
            "scikit-learn: Linear models",
            (5,),
            "https://scikit-learn.org/stable/modules/linear_model.html",
        ),
    }
    items = {i.source: i for i in resolve_sources(tmp_path).items}
    assert items["notes/a.md"].path == tmp_path.resolve() / "notes" / "a.md"
    assert items["https://scikit-learn.org/stable/modules/linear_model.html"].path is None
    assert resolve_sources(tmp_path).refused == []


def test_a_file_listed_twice_is_ingested_once_with_its_first_entry(tmp_path: Path) -> None:
    write(tmp_path, "notes/a.md", "# A\n\ntext\n")
    toml(
        tmp_path,
        '[[source]]\npath = "notes/a.md"\nphases = [1]\n\n[[source]]\npath = "notes"\nphases = [2]\n',
    )
    assert sources(tmp_path) == {"notes/a.md": (None, (1,), None)}


def test_missing_file_glob_without_match_and_bad_scheme_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "# A\n\ntext\n")
    toml(
        tmp_path,
        """
[[source]]
path = "a.md"
[[source]]
path = "gone.md"
[[source]]
path = "nothing/*.md"
[[source]]
url = "file:///etc/passwd"
[[source]]
url = "ftp://example.org/notes.md"
""",
    )
    assert list(sources(tmp_path)) == ["a.md"]
    why = refused(tmp_path)
    assert why["gone.md"] == "listed in sources.toml but does not exist"
    assert why["nothing/*.md"] == "listed in sources.toml but matches no file"
    assert "only http and https" in why["file:///etc/passwd"]
    assert "only http and https" in why["ftp://example.org/notes.md"]


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    manifest = toml(tmp_path, '[[source]]\npath = "a.md\n')
    with pytest.raises(BadInputError) as info:
        resolve_sources(tmp_path)
    assert str(manifest.resolve()) in str(info.value)
    assert "not valid TOML" in str(info.value)
    assert "line 2" in str(info.value)  # where in the file


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ('[[source]]\ntitle = "no path"\n', "source #1 needs exactly one of 'path' or 'url'"),
        (
            '[[source]]\npath = "a.md"\n[[source]]\npath = "a.md"\nurl = "https://x.org/"\n',
            "source #2 needs exactly one of 'path' or 'url'",
        ),
        (
            '[[source]]\npath = "a.md"\nphases = [0]\n',
            "source #1: phases must be a list of integers 1-9, got [0]",
        ),
        ('[[source]]\npath = "a.md"\nphases = [10]\n', "got [10]"),
        ('[[source]]\npath = "a.md"\nphases = 5\n', "got 5"),
        ('[[source]]\npath = "a.md"\nphases = ["5"]\n', "got ['5']"),
        ('source = "a.md"\n', "[[source]] must be an array of tables"),
        ('[[source]]\npath = "a.md"\ntitle = 7\n', "source #1: title must be a string, got 7"),
        ('[[source]]\npath = "a.md"\nphase = [5]\n', "source #1 has unknown key 'phase'"),
    ],
)
def test_invalid_entries_name_the_file_and_the_entry(
    tmp_path: Path, entries: str, expected: str
) -> None:
    write(tmp_path, "a.md", "# A\n\ntext\n")
    manifest = toml(tmp_path, entries)
    with pytest.raises(BadInputError) as info:
        resolve_sources(tmp_path)
    assert str(manifest.resolve()) in str(info.value)
    assert expected in str(info.value)


def test_missing_corpus_folder_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=f"corpus folder {tmp_path / 'nope'} does not exist"):
        resolve_sources(tmp_path / "nope")


# --- escapes --------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the corpus with files a corpus must never pull in."""
    write(tmp_path, "outside/secret.md", "# Secret\n\nnot part of the corpus\n")
    write(tmp_path, "outside/dir/more.md", "# More\n\nnot part of the corpus\n")
    return tmp_path / "outside"


def test_dotdot_absolute_and_symlinks_out_are_refused(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "corpus"
    write(root, "ok.md", "# Ok\n\ntext\n")
    write(root, "docs/fine.md", "# Fine\n\ntext\n")
    os.symlink(outside / "secret.md", root / "docs" / "link.md")  # a file link out
    os.symlink(outside / "dir", root / "linked-dir")  # a folder link out
    os.symlink(root / "ok.md", root / "docs" / "inside-link.md")  # stays inside: fine
    toml(
        root,
        f"""
[[source]]
path = "ok.md"
[[source]]
path = "../outside/secret.md"
[[source]]
path = "docs/../../outside/*.md"
[[source]]
path = "{outside / "secret.md"}"
[[source]]
path = "docs"
[[source]]
path = "linked-dir"
""",
    )
    found = sources(root)
    assert sorted(found) == ["docs/fine.md", "docs/inside-link.md", "ok.md"]
    why = refused(root)
    assert set(why) == {
        "../outside/secret.md",
        "docs/../../outside/*.md",
        str(outside / "secret.md"),
        "docs/link.md",
        "linked-dir/more.md",
    }
    assert all("outside the corpus root" in reason for reason in why.values())


def test_symlink_out_is_refused_without_sources_toml(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "corpus"
    write(root, "ok.md", "# Ok\n\ntext\n")
    os.symlink(outside / "secret.md", root / "leak.md")
    assert list(sources(root)) == ["ok.md"]
    assert "outside the corpus root" in refused(root)["leak.md"]


def test_escapes_are_listed_in_the_build_report(embedder, tmp_path: Path, outside: Path) -> None:  # type: ignore[no-untyped-def]
    root = write_corpus(tmp_path / "corpus")
    os.symlink(outside / "secret.md", root / "notes" / "leak.md")
    with (root / "sources.toml").open("a", encoding="utf-8") as f:
        f.write('\n[[source]]\npath = "../outside/secret.md"\n')
        f.write(f'\n[[source]]\npath = "{outside / "dir" / "more.md"}"\n')
    report = build_corpus_index(embedder, root, tmp_path / "index")
    skipped = dict(report.skipped)
    assert "outside the corpus root" in skipped["../outside/secret.md"]
    assert "outside the corpus root" in skipped[str(outside / "dir" / "more.md")]
    assert "outside the corpus root" in skipped["notes/leak.md"]  # matched by notes/*.md
    assert report.published
    texts = " ".join(c.text for c in published_chunks(tmp_path / "index"))
    assert "not part of the corpus" not in texts


# --- folders without sources.toml -----------------------------------------------------


def test_without_sources_toml_every_supported_file_is_ingested(tmp_path: Path) -> None:
    for rel in ["a.md", "b.markdown", "c.txt", "d.rst", "e.html", "f.htm", "g.ipynb", "h.pdf"]:
        write(tmp_path, f"deep/er/{rel}", "x")
    write(tmp_path, "top.md", "x")
    write(tmp_path, "code.py", "print(1)")
    write(tmp_path, "image.png", b"\x89PNG")
    write(tmp_path, "README", "no suffix")
    write(tmp_path, ".git/notes.md", "hidden folder")
    write(tmp_path, ".draft.md", "hidden file")
    found = sorted(sources(tmp_path))
    assert found == [
        "deep/er/a.md",
        "deep/er/b.markdown",
        "deep/er/c.txt",
        "deep/er/d.rst",
        "deep/er/e.html",
        "deep/er/f.htm",
        "deep/er/g.ipynb",
        "deep/er/h.pdf",
        "top.md",
    ]


def test_bad_files_are_skipped_with_reasons_and_the_build_goes_on(embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = write_corpus(tmp_path / "corpus", sources_toml=False)
    write(root, "bad/binary.md", bytes(range(256)) * 4)
    write(root, "bad/latin1.txt", "Caf\xe9 cr\xe8me br\xfbl\xe9e".encode("latin-1"))
    write(root, "bad/empty.md", "")
    write(root, "bad/blank.md", "\n\n   \n")
    write(root, "bad/huge.md", "# Huge\n\n" + "word " * 30_000)
    report = build_corpus_index(embedder, root, tmp_path / "index", max_file_bytes=100_000)
    skipped = dict(report.skipped)
    assert set(skipped) == {
        "bad/binary.md",
        "bad/latin1.txt",
        "bad/empty.md",
        "bad/blank.md",
        "bad/huge.md",
    }
    assert "binary" in skipped["bad/binary.md"]
    assert "utf-8" in skipped["bad/latin1.txt"].lower()
    assert "empty" in skipped["bad/empty.md"]
    assert "empty" in skipped["bad/blank.md"]
    assert "too large" in skipped["bad/huge.md"] and "100000" in skipped["bad/huge.md"]
    assert report.published
    assert report.files == 8  # every file was tried
    got = {c.source for c in published_chunks(tmp_path / "index")}
    assert got == {"guide.md", "notes/phase-7-rl.md", "notes/tools.txt"}
