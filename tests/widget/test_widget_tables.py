"""GFM pipe tables in answers: rendered as real tables, cells as safe as any other text."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fakes.openai_server import Reply
from tests.widget.conftest import StaticSite
from tests.widget.helpers import ask, focused, in_shadow, open_widget, wait_answer

pytestmark = pytest.mark.browser

# What the widget's table looks like, read from the last answer's first table.
READ_TABLE = """
const texts = root.querySelectorAll(".msg.bot .text");
const table = texts[texts.length - 1].querySelector("table");
if (!table) return null;
const cells = (tr) => [...tr.children].map((c) => [c.tagName.toLowerCase(), c.className, c.textContent]);
return {
  head: [...table.querySelectorAll("thead tr")].map(cells),
  body: [...table.querySelectorAll("tbody tr")].map(cells),
  scopes: [...table.querySelectorAll("th")].map((th) => th.getAttribute("scope")),
  wrap: [table.parentElement.className, table.parentElement.getAttribute("tabindex")],
  bad: table.querySelectorAll("img,svg,script,iframe,video,style,link").length,
  hrefs: [...table.querySelectorAll("[href]")].map((a) => a.getAttribute("href")),
  refs: table.querySelectorAll("button.ref").length,
};
"""


def test_answer_with_a_table(tabs, llm_service, llm) -> None:  # type: ignore[no-untyped-def]
    canary = StaticSite("127.0.0.1")  # counts every request; nothing may ever reach it
    c = canary.origin
    text = (
        "Ridge and Lasso compared:\n"
        "| Model | Penalty | Zeroes weights |\n"
        "|:------|:-------:|---------------:|\n"
        "| Lasso | L1 \\| sum of \\|w\\| | yes [1] |\n"
        "| Ridge | **L2** | no |\n"
        f'| <img src="{c}/cell.png" onerror="window.__pwned=1"> | [x](javascript:window.__pwned=2) '
        f"| ![t]({c}/t.png) | an extra cell |\n"
        "| short row |\n"
        "\n"
        "Use [the guide](https://example.org/guide) for more.\n"
        "\n"
        "| not | a table |\n"
        "|---|\n"
    )
    llm.push(Reply.ok(text))
    try:
        tab = tabs()
        page = tab.page
        page.goto(llm_service.url + "/")  # the demo page: strict CSP and Trusted Types
        open_widget(page)
        ask(page, "How do Ridge and Lasso differ in what they do to weights?")
        bot = wait_answer(page, 1)
        page.wait_for_timeout(300)  # time for any stray load or handler to fire

        found = in_shadow(page, READ_TABLE)
        assert found is not None, bot.inner_html()
        assert found["head"] == [
            [
                ["th", "align-left", "Model"],
                ["th", "align-center", "Penalty"],
                ["th", "align-right", "Zeroes weights"],
            ]
        ]
        assert found["scopes"] == ["col", "col", "col"]
        body = [[text for _, _, text in row] for row in found["body"]]
        assert body[0][:2] == ["Lasso", "L1 | sum of |w|"]  # escaped pipes are text
        assert body[0][2].startswith("yes [1]"), body[0]  # (then the marker's source name)
        assert body[1] == ["Ridge", "L2", "no"]
        # Raw HTML in a cell is text; a javascript: link is its label; an image its alt.
        assert body[2] == [
            f'<img src="{c}/cell.png" onerror="window.__pwned=1">',
            "x",
            "[image: t]",
        ]
        assert body[3] == ["short row", "", ""]  # padded to the header's width
        assert [row[2][1] for row in found["body"]] == ["align-right"] * 4
        assert found["wrap"] == ["table-wrap", "0"]  # a scroller reachable by keyboard
        assert found["bad"] == 0 and found["hrefs"] == []
        assert page.evaluate("window.__pwned") is None and canary.requests == []

        # Inline Markdown works in cells: strong text, and a [1] marker that finds its source.
        expect(bot.locator("td strong")).to_have_text("L2")
        assert found["refs"] == 1
        bot.locator("td button.ref", has_text="[1]").click()
        assert focused(page) == "cite-link"
        # A delimiter row with fewer cells than the header is no table: plain text.
        expect(bot.locator(".text table")).to_have_count(1)
        expect(bot.locator(".text p").last).to_contain_text("| not | a table |")
        expect(bot.locator(".text a")).to_have_attribute("href", "https://example.org/guide")
        assert tab.errors == [] and page.evaluate("window.__csp") == []
    finally:
        canary.stop()
