"""The build context: what `docker build -f docker/Dockerfile .` sends, per .dockerignore.

Docker's rule, reproduced: patterns are Go ``filepath.Match`` globs plus ``**``; the last
pattern that matches a path or one of its parent folders decides; ``!`` re-includes.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from tests.docker.dockerfile import Instruction, split_flags
from tests.docker.files import REPO, rel


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus ``**``) as a regex."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignore_rules(path: Path) -> list[tuple[re.Pattern[str], bool]]:
    rules = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            cleaned = str(PurePosixPath(line.lstrip("!").strip().lstrip("/")))
            rules.append((_pattern_regex(cleaned), negated))
    return rules


def is_ignored(rules: list[tuple[re.Pattern[str], bool]], path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for regex, negated in rules:
        if any(regex.match(c) for c in candidates):
            ignored = not negated
    return ignored


def check_dockerignore(
    path: Path, instructions: list[Instruction], must_exclude: list[str], repo: Path = REPO
) -> list[str]:
    """Every COPY source reaches the builder; local state and secrets never do."""
    rules = dockerignore_rules(path)
    problems = []
    for ins in instructions:
        flags, rest = split_flags(ins.value)
        if ins.keyword not in {"COPY", "ADD"} or "from" in flags:
            continue
        for source in rest.split()[:-1]:
            # A directory source: the directory and one file inside it.
            matches = sorted(repo.glob(source.rstrip("/")))
            files = [m for match in matches for m in [match, *sorted(match.rglob("*.py"))[:1]]]
            for file in files:
                relative = file.relative_to(repo).as_posix()
                if is_ignored(rules, relative):
                    problems.append(f"{rel(path)}: excludes {relative!r}, which {ins.where} copies")
    for relative in must_exclude:
        if not is_ignored(rules, relative):
            problems.append(f"{rel(path)}: does not exclude {relative!r} from the build context")
    return problems
