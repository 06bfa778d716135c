"""The widget on other people's pages: CORS, style isolation, and model text that attacks.

Host pages are served from other loopback addresses (127.0.0.2 allowed by
ASSISTANT_CORS_ORIGINS, 127.0.0.3 not), exactly as a customer's site would embed the
widget with one script tag.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import LiveServer, make_settings
from tests.fakes.openai_server import Reply
from tests.widget.conftest import StaticSite, embed_page
from tests.widget.helpers import ask, ask_requests, in_shadow, open_widget, q, wait_answer

pytestmark = pytest.mark.browser

# A host stylesheet that tries hard to hide or restyle everything, the widget included.
HOSTILE_CSS = """
* { all: unset !important; font-size: 40px !important; color: rgb(255, 0, 0) !important; }
html { font-size: 8px !important; }
study-assistant { display: none !important; visibility: hidden !important;
  opacity: 0 !important; position: absolute !important; left: -9999px !important; }
button { background: rgb(255, 0, 0) !important; display: none !important; }
"""


def test_second_origin_works_through_cors_and_host_css_cannot_break_it(  # type: ignore[no-untyped-def]
    tabs, service, site
) -> None:
    site.add("/hostile.css", HOSTILE_CSS, content_type="text/css")
    # The host's own strict CSP: no inline styles at all, scripts and calls only to the API.
    csp = (
        f"default-src 'none'; script-src {service.url}; connect-src {service.url}; style-src 'self'"
    )
    url = site.add(
        "/course.html",
        embed_page(
            service.url, service.url, extra_head='<link rel="stylesheet" href="/hostile.css">'
        ),
        headers={"Content-Security-Policy": csp},
    )
    tab = tabs(viewport={"width": 1024, "height": 768})
    page = tab.page
    sent = ask_requests(page)
    page.goto(url)

    launcher = q(page, ".launcher")
    expect(launcher).to_be_visible()
    box = launcher.bounding_box()
    assert (
        1024 - 40 < box["x"] + box["width"] <= 1024 and 768 - 40 < box["y"] + box["height"] <= 768
    )
    looks = in_shadow(
        page,
        "const s = getComputedStyle(root.querySelector('.launcher'));"
        "return [s.fontSize, s.backgroundColor, s.color, getComputedStyle(host).display];",
    )
    assert looks == ["15px", "rgb(11, 87, 208)", "rgb(255, 255, 255)", "inline"], looks
    # ...and the widget leaves the host's styles alone.
    host = page.evaluate(
        "() => [document.adoptedStyleSheets.length, document.querySelectorAll('style').length,"
        " document.styleSheets.length, getComputedStyle(document.getElementById('host-text')).color]"
    )
    assert host == [0, 0, 1, "rgb(255, 0, 0)"], host

    open_widget(page)
    assert q(page, ".panel").bounding_box()["width"] == 400
    ask(page, "What is gradient descent?")
    bot = wait_answer(page, 1)
    expect(bot.locator(".text")).not_to_be_empty()
    assert sent[0]["_request"].all_headers()["origin"] == site.origin
    assert page.evaluate("window.__csp") == [], "constructable stylesheets need no unsafe-inline"
    assert tab.errors == []


def test_origin_not_in_the_list_gets_a_clear_error(tabs, service, stranger) -> None:  # type: ignore[no-untyped-def]
    url = stranger.add("/page.html", embed_page(service.url, service.url))
    page = tabs().page
    page.goto(url)
    open_widget(page)
    ask(page, "What is a confusion matrix?")
    banner = q(page, ".banner")
    expect(banner).to_have_attribute("data-kind", "cors")
    expect(banner).to_contain_text(f"This page ({stranger.origin}) is not allowed")
    expect(banner).to_contain_text("ASSISTANT_CORS_ORIGINS")
    expect(q(page, "textarea")).to_have_value("What is a confusion matrix?")  # nothing lost
    expect(q(page, ".msg")).to_have_count(0)
    expect(q(page, '[role="alert"]')).to_contain_text("not allowed")


def test_model_output_cannot_run_or_fetch_anything(tabs, llm_service, llm, site) -> None:  # type: ignore[no-untyped-def]
    canary = StaticSite("127.0.0.1")  # counts every request; nothing may ever reach it
    c = canary.origin
    payload = (
        f'<img src=x onerror="window.__pwned=1"> [x](javascript:window.__pwned=2) '
        f'![i]({c}/img.png) <svg onload="window.__pwned=3"></svg> '
        "<script>window.__pwned=4</script> [1]\n\n"
        f'<img src="{c}/raw.png"> <iframe src="{c}/frame"></iframe> '
        '<a href="javascript:window.__pwned=5">a</a> [y](JaVaScRiPt:window.__pwned=6) '
        "[d](data:text/html,%3Cscript%3Ewindow.__pwned=7%3C/script%3E) "
        f'<link rel=stylesheet href="{c}/x.css"> <style>@import "{c}/y.css";</style> '
        "[ok](https://example.org/guide) and `<b>code</b>`\n\n"
        f'- item <video src="{c}/v.mp4" onloadstart="window.__pwned=9"></video>\n'
        f"- ![alt text]({c}/list.png)\n\n"
        f'```html\n<img src="{c}/code.png" onerror="window.__pwned=8">\n```\n'
    )
    llm.push(Reply.ok(payload))
    before = len(llm.completions)
    try:
        url = site.add("/no-csp.html", embed_page(llm_service.url, llm_service.url))  # no CSP
        tab = tabs()
        page = tab.page
        page.goto(url)
        open_widget(page)
        ask(page, "What does the Ridge penalty do to very large weights?")
        bot = wait_answer(page, 1)
        assert len(llm.completions) == before + 1, "the answer must come from the fake model"
        page.wait_for_timeout(300)  # time for any stray load or handler to fire

        assert page.evaluate("window.__pwned") is None
        assert canary.requests == []
        found = in_shadow(
            page,
            "const bad = root.querySelectorAll("
            "'img,svg,script,iframe,object,embed,style,link,video,audio,source,picture,math');"
            "const onAttrs = [...root.querySelectorAll('*')].flatMap("
            "  (el) => [...el.attributes].map((a) => a.name).filter((n) => n.startsWith('on')));"
            "const hrefs = [...root.querySelectorAll('[href]')].map((a) => a.getAttribute('href'));"
            "return {bad: bad.length, onAttrs, hrefs};",
        )
        # The one safe Markdown link is the only href; raw HTML never becomes a link.
        assert found == {"bad": 0, "onAttrs": [], "hrefs": ["https://example.org/guide"]}, found
        link = bot.locator(".text a")
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        text = bot.locator(".text")
        # Raw HTML is shown as text; images become their description; code stays code.
        expect(text).to_contain_text('<img src=x onerror="window.__pwned=1">')
        expect(text).to_contain_text("[image: i]")
        expect(text).to_contain_text("[image: alt text]")
        expect(bot.locator(".text code").first).to_have_text("<b>code</b>")
        expect(bot.locator(".text pre code")).to_contain_text("onerror=")
        expect(bot.locator(".text li")).to_have_count(2)
        assert tab.errors == []
    finally:
        canary.stop()


def test_web_sources_open_in_a_new_tab_from_the_side_panel(tabs, embedder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from indexing.build import BuildOptions, build_index
    from indexing.fetch import UrlFetcher

    web = StaticSite("127.0.0.1")  # the "web page" a URL source of the corpus points at
    try:
        guide = web.add(
            "/boosting.html",
            "<html><head><title>Gradient boosting guide</title></head><body>"
            "<h1>Gradient boosting</h1><h2>How boosting builds trees</h2>"
            "<p>Gradient boosting builds shallow decision trees one after another. Each new "
            "tree is fitted to the residual errors of the ensemble built so far, and its "
            "predictions are added with a small learning rate.</p></body></html>",
        )
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        (corpus / "sources.toml").write_text(
            f'[[source]]\nurl = "{guide}"\ntitle = "Gradient boosting guide"\nphases = [5]\n'
        )
        with UrlFetcher(tmp_path / "url-cache", allow_private=True) as fetcher:
            report = build_index(
                BuildOptions(corpus=corpus, index_dir=tmp_path / "index"), embedder, fetcher=fetcher
            )
        assert report.chunks > 0, report
        with LiveServer(make_settings(tmp_path / "index", tmp_path), embedder) as srv:
            page = tabs().page
            page.goto(srv.url + "/")
            open_widget(page)
            ask(page, "How does gradient boosting build its trees?")
            bot = wait_answer(page, 1)
            # The source opens its passage in the side panel, which links to the web page.
            source = bot.locator(".cites .cite-link").first
            expect(source.locator(".cite-title")).to_have_text("Gradient boosting guide")
            source.click()
            expect(q(page, ".passage-text")).to_contain_text("shallow decision trees")
            link = q(page, ".passage a.passage-link")
            expect(link).to_have_attribute("target", "_blank")
            expect(link).to_have_attribute("rel", "noopener noreferrer")
            assert link.get_attribute("href").startswith(guide)
            with page.context.expect_page() as opened:
                link.click()
            popup = opened.value
            popup.wait_for_load_state()
            assert popup.url.startswith(guide)
            assert popup.evaluate("window.opener") is None
    finally:
        web.stop()
