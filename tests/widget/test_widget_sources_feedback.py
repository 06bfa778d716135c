"""A learner in Chromium: a citation opens its passage in the side panel, Previous/Next walk
its source, and a thumbs-down with a comment is stored (read back from the ledger database).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.widget.conftest import AXE, OUTPUT
from tests.widget.helpers import (
    ask,
    check_png,
    focused,
    in_shadow,
    open_widget,
    q,
    wait_answer,
)

pytestmark = pytest.mark.browser

QUESTION = "When should I use Lasso instead of Ridge?"


def plain_start(text: str) -> str:
    """The first words of a passage's first line as the widget renders it (markers dropped)."""
    line = next(ln for ln in text.splitlines() if ln.strip())
    line = re.sub(r"\*\*|`|__", "", line).lstrip("#-*>+0123456789. ")
    return " ".join(line.split()[:5])


def passage_requests(page: Any) -> list[str]:
    """The chunk ids of every GET /v1/passages/... the page sends."""
    seen: list[str] = []
    page.on(
        "request",
        lambda r: seen.append(r.url.rsplit("/", 1)[-1]) if "/v1/passages/" in r.url else None,
    )
    return seen


def feedback_rows(database_url: str, comment: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("select * from feedback where comment = :c"), {"c": comment}
            )
            return [dict(r._mapping) for r in rows]
    finally:
        engine.dispose()


def test_read_a_cited_passage_walk_its_source_and_rate_the_answer(tabs, service) -> None:  # type: ignore[no-untyped-def]
    tab = tabs(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = tab.page
    fetched = passage_requests(page)
    page.goto(service.url + "/")
    open_widget(page)
    ask(page, QUESTION)
    bot = wait_answer(page, 1)
    served = service.assistant.ask(QUESTION)  # the same answer, from the cache
    first = served.citations[0]
    index = service.assistant.snapshot.passages
    passage = index.passage(first.chunk_id)
    assert fetched == [], "nothing is fetched before a citation is opened"

    # A citation without a web address opens its passage whole in the side panel.
    assert not first.url.startswith("http")
    side = q(page, ".passage")
    expect(side).to_be_hidden()
    bot.locator(".cites .cite-link").first.click()
    expect(side).to_be_visible()
    expect(side).to_have_attribute("role", "dialog")
    expect(side.locator(".passage-title")).to_have_text(first.title)
    expect(side.locator(".passage-text")).not_to_have_attribute("aria-busy", "true")
    words = plain_start(passage.chunk.text)
    expect(side.locator(".passage-text")).to_contain_text(words)
    expect(side.locator(".passage-path")).to_contain_text(first.section.split(" > ")[-1])
    expect(side.locator(".passage-meta")).to_contain_text(
        f"passage {passage.position} of {passage.count}"
    )
    expect(side.locator(".passage-link")).to_have_count(0)  # no web address: nothing to open
    assert focused(page) == "passage-title", "focus moves into the side panel"
    labelled = side.get_attribute("aria-labelledby")
    expect(q(page, f"#{labelled}")).to_have_text(first.title)
    box, panel = side.bounding_box(), q(page, ".panel").bounding_box()
    assert box["x"] + box["width"] <= panel["x"], "beside the chat panel on a wide screen"

    # Next and Previous walk the source in chunk order.
    assert passage.next is not None
    nxt = side.locator(".passage-next")
    expect(nxt).to_contain_text("Next")
    nxt.click()
    expect(side).to_have_attribute("data-chunk", passage.next.chunk_id)
    following = plain_start(passage.next.text)
    expect(side.locator(".passage-text")).to_contain_text(following)
    expect(side.locator(".passage-meta")).to_contain_text(f"passage {passage.position + 1} of")
    side.locator(".passage-prev").click()
    expect(side).to_have_attribute("data-chunk", first.chunk_id)
    expect(side.locator(".passage-text")).to_contain_text(words)
    assert fetched == [first.chunk_id, passage.next.chunk_id], "a passage is fetched once"

    OUTPUT.mkdir(exist_ok=True)
    shot = OUTPUT / "widget-passage.png"
    page.screenshot(path=str(shot))
    check_png(shot, 1280, 800)

    # The open side panel passes axe (serious and critical rules).
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run({include: [['study-assistant']]},"
        " {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id)"
    )
    assert found == []

    # Escape closes it, focus goes back to the citation, the chat stays open.
    page.keyboard.press("Escape")
    expect(side).to_be_hidden()
    expect(q(page, ".panel")).to_be_visible()
    assert focused(page) == "cite-link"
    bot.locator(".cites .cite-link").first.click()  # and the close button closes it too
    expect(side).to_be_visible()
    side.locator(".passage-close").click()
    expect(side).to_be_hidden()

    # Thumbs down with a comment: the rating is sent at once, the comment after it.
    down = bot.locator(".feedback .thumb-down")
    expect(down).to_have_attribute("aria-pressed", "false")
    down.click()
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(bot.locator(".feedback .thumb-up")).to_have_attribute("aria-pressed", "false")
    expect(bot.locator(".feedback-state")).to_have_text("Thanks, your rating was saved.")
    comment = f"The answer does not say why L1 zeroes weights ({id(page)})."
    box = bot.locator(".feedback-comment textarea")
    expect(bot.locator(".feedback-comment label")).to_have_text(
        "What was wrong or missing? (optional)"
    )
    box.fill(comment)
    bot.locator(".feedback-send").click()
    expect(bot.locator(".feedback-state")).to_have_text("Thanks, your comment was saved.")
    page.screenshot(path=str(OUTPUT / "widget-feedback.png"))
    expect(bot.locator(".feedback-comment")).to_be_hidden()
    [row] = feedback_rows(service.settings.database_url, comment)
    assert (row["rating"], row["key_id"], row["question"]) == ("down", "anonymous", QUESTION)
    assert row["answer"] == served.answer
    assert tab.errors == []


def test_on_a_narrow_screen_the_side_panel_covers_the_chat(tabs, service) -> None:  # type: ignore[no-untyped-def]
    """Over the chat panel, Tab stays inside the side panel (the URL link: test_widget_embedding)."""
    page = tabs(viewport={"width": 700, "height": 800}).page
    page.goto(service.url + "/")
    open_widget(page)
    ask(page, QUESTION)
    bot = wait_answer(page, 1)
    bot.locator(".cites .cite-link").first.click()
    side = q(page, ".passage")
    expect(side).to_be_visible()
    box, panel = side.bounding_box(), q(page, ".panel").bounding_box()
    assert abs(box["x"] - panel["x"]) < 2 and abs(box["width"] - panel["width"]) < 2
    for _ in range(8):
        page.keyboard.press("Tab")
        assert in_shadow(
            page, "return root.querySelector('.passage').contains(root.activeElement);"
        )
