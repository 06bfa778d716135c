"""A tiny study corpus for the coach's browser tests: five topics of one phase, one with an
XSS canary in its core idea. The answers are known, so a test can answer right or wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import CORPUS

PHASE = 3
CANARY = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'

# topic -> (core idea, when to use it, common pitfall, the term a cloze blanks)
TOPICS: dict[str, tuple[str, str, str, str]] = {
    "Canary Topic": (
        f"The canary bird {CANARY} warns miners early when the CO level in a tunnel rises. "
        "It reacts long before people notice anything.",
        "Use it when the air in a closed space may turn bad without warning.",
        "People forget to check on the bird, so the warning comes too late.",
        "CO",
    ),
    "Sourdough Bread": (
        "Sourdough bread rises with a wild yeast starter that bakers keep in a jar of LEVAIN. "
        "The long fermentation gives it a sour taste.",
        "Use it when you want bread that keeps fresh for days without additives.",
        "Bakers use a weak starter, so the dough never rises and stays dense.",
        "LEVAIN",
    ),
    "Glacier Hiking": (
        "Glacier hiking crosses moving ice roped together and wearing CRAMPONS on the boots. "
        "Hidden crevasses are the main danger on the way.",
        "Use it when a mountain route leads over permanent ice fields.",
        "Hikers walk unroped on snow bridges that collapse under their weight.",
        "CRAMPONS",
    ),
    "Tide Pools": (
        "Tide pools are rock basins that keep sea water at low tide, home to crabs and an "
        "UVB tolerant kind of algae. Their creatures survive heat and waves every day.",
        "Use it when you want to watch sea life without diving.",
        "Visitors turn rocks over and leave them, which kills what lived underneath.",
        "UVB",
    ),
    "Bird Migration": (
        "Bird migration moves whole populations between breeding and wintering grounds along "
        "the same FLYWAY every year. Birds navigate by the sun, the stars and the magnetic field.",
        "Use it when you plan when and where to watch passing flocks.",
        "Observers count the same flock twice at two places and overestimate the numbers.",
        "FLYWAY",
    ),
}

# A word of each topic's first core sentence that names no other topic: it identifies the
# topic in a multiple-choice prompt, where the topic's own name is masked.
CLUES = {
    "Canary Topic": "miners",
    "Sourdough Bread": "yeast",
    "Glacier Hiking": "CRAMPONS",
    "Tide Pools": "basins",
    "Bird Migration": "populations",
}


def write_corpus(root: Path) -> Path:
    """The project's roadmap (what "what next" cites) and notes/hobbies.md under ``root``."""
    corpus = root / "corpus"
    (corpus / "notes").mkdir(parents=True)
    shutil.copy(CORPUS / "roadmap.md", corpus / "roadmap.md")
    (corpus / "sources.toml").write_text(
        '[[source]]\npath = "roadmap.md"\ntitle = "Machine Learning Engineer Roadmap (2026)"\n'
        f"phases = {list(range(1, 10))}\n\n"
        f'[[source]]\npath = "notes/hobbies.md"\nphases = [{PHASE}]\n',
        encoding="utf-8",
    )
    parts = ["# Hobby Notes\n\nShort notes on a few outdoor topics.\n"]
    for name, (core, when, pitfall, _term) in TOPICS.items():
        parts.append(
            f"## {name}\n\n**Core idea.** {core}\n\n**When to use it.** {when}\n\n"
            f"**Common pitfall.** {pitfall}\n"
        )
    (corpus / "notes" / "hobbies.md").write_text("\n".join(parts), encoding="utf-8")
    return corpus


def right_answer(qtype: str, prompt: str, options: list[str] | None) -> str:
    """The correct answer to a question on this corpus, worked out from its prompt."""
    for name, (core, _when, pitfall, term) in TOPICS.items():
        if qtype == "mcq" and CLUES[name] in prompt:
            assert options and name in options, (prompt, options)
            return name
        if qtype == "cloze" and f"({name})" in prompt:
            return term
        if qtype == "short" and name in prompt:
            return pitfall if "pitfall" in prompt else core
    raise AssertionError(f"no known answer for {qtype}: {prompt}")
