"""What to ingest: ``sources.toml`` when the corpus has one, else every supported file.

``sources.toml`` lists ``[[source]]`` tables, each with exactly one of ``path`` (a file,
a glob or a folder, relative to the corpus root) or ``url`` (http/https), and optional
``title`` and ``phases`` (roadmap phases 1-9)::

    [[source]]
    path = "notes/*.md"
    phases = [5]

    [[source]]
    url = "https://scikit-learn.org/stable/modules/linear_model.html"
    title = "scikit-learn: Linear models"
    phases = [5]
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import BadInputError
from indexing.loaders import SUPPORTED_SUFFIXES

SOURCES_FILE = "sources.toml"
_KEYS = ("path", "url", "title", "phases")
_PHASE_IN_NAME = re.compile(r"phase[-_ ]?(\d)", re.IGNORECASE)


@dataclass(slots=True, frozen=True)
class SourceItem:
    """One file or URL to load."""

    source: str  # relative posix path, or the URL
    path: Path | None  # absolute path for files
    url: str | None
    title: str | None
    phases: tuple[int, ...]


@dataclass(slots=True)
class Resolved:
    items: list[SourceItem]
    refused: list[tuple[str, str]]  # (what, reason): paths outside the root, missing files


def _phases(value: object, where: str) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(p, int) and 1 <= p <= 9 for p in value):
        raise BadInputError(f"{where}: phases must be a list of integers 1-9, got {value!r}")
    return tuple(sorted(set(value)))


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def _is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES and not any(
        part.startswith(".") for part in path.parts
    )


def _file_item(root: Path, path: Path, title: str | None, phases: tuple[int, ...]) -> SourceItem:
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
    if not phases:
        m = _PHASE_IN_NAME.search(path.stem)
        phases = (int(m.group(1)),) if m and 1 <= int(m.group(1)) <= 9 else ()
    return SourceItem(source=rel, path=root / rel, url=None, title=title, phases=phases)


def _expand(root: Path, pattern: str) -> list[Path]:
    if any(ch in pattern for ch in "*?["):
        return sorted(p for p in root.glob(pattern) if p.is_file())
    target = root / pattern
    if target.is_dir():
        return sorted(
            p for p in target.rglob("*") if p.is_file() and _is_supported(p.relative_to(root))
        )
    return [target]


def resolve_sources(corpus: Path) -> Resolved:
    """Every item to ingest, and what was refused (escaping paths, missing files)."""
    root = corpus.resolve()
    if not root.is_dir():
        raise BadInputError(f"corpus folder {corpus} does not exist")
    manifest = root / SOURCES_FILE
    items: dict[str, SourceItem] = {}
    refused: list[tuple[str, str]] = []

    def add_file(path: Path, title: str | None, phases: tuple[int, ...]) -> None:
        shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        if ".." in Path(shown).parts or not _inside(root, path):
            refused.append((shown, "outside the corpus root (.. or a symlink out): refused"))
            return
        if not path.exists():
            refused.append((shown, "listed in sources.toml but does not exist"))
            return
        item = _file_item(root, path, title, phases)
        items.setdefault(item.source, item)

    if not manifest.exists():
        for p in sorted(root.rglob("*")):
            if p.is_file() and _is_supported(p.relative_to(root)):
                add_file(p, None, ())
        return Resolved(list(items.values()), refused)

    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{manifest} is not valid TOML: {exc}") from exc
    entries = data.get("source", [])
    if not isinstance(entries, list):
        raise BadInputError(f"{manifest}: [[source]] must be an array of tables")
    for n, entry in enumerate(entries, start=1):
        where = f"{manifest}: source #{n}"
        if not isinstance(entry, dict) or ("path" in entry) == ("url" in entry):
            raise BadInputError(f"{where} needs exactly one of 'path' or 'url', got {entry!r}")
        # A misspelt key ("phase") would otherwise be dropped without a word.
        unknown = sorted(set(entry) - set(_KEYS))
        if unknown:
            raise BadInputError(
                f"{where} has unknown key {unknown[0]!r}; allowed: {', '.join(_KEYS)}"
            )
        title = entry.get("title")
        if title is not None and not isinstance(title, str):
            raise BadInputError(f"{where}: title must be a string, got {title!r}")
        phases = _phases(entry.get("phases"), where)
        if "url" in entry:
            url = str(entry["url"])
            if not re.match(r"^https?://", url, re.IGNORECASE):
                refused.append((url, "only http and https URLs are allowed"))
                continue
            items.setdefault(url, SourceItem(url, None, url, title, phases))
            continue
        pattern = str(entry["path"])
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            refused.append((pattern, "outside the corpus root (.. or an absolute path): refused"))
            continue
        matches = _expand(root, pattern)
        if not matches:
            refused.append((pattern, "listed in sources.toml but matches no file"))
        for p in matches:
            add_file(p, title if len(matches) == 1 else None, phases)
    return Resolved(list(items.values()), refused)
