"""The HTML loader on synthetic Sphinx and article pages, and on a real Python docs page."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.loaders import SkippedSource, load_bytes, load_file

MAX = 5_000_000
PYTHON_DOCS = Path("/usr/share/doc/python3.11/html")

SPHINX_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"/>
<title>Classes &#8212; Example 1.0 documentation</title>
<script>var tracking = "NOT CONTENT";</script><style>.x{color:red}</style></head>
<body>
<div class="related" role="navigation"><ul><li><a href="index.html">index</a></li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main">
<section id="classes">
<span id="tut-classes"></span><h1>9. Classes<a class="headerlink" href="#classes">¶</a></h1>
<p>Classes provide a means of   bundling data
and functionality together.</p>
<section id="a-first-look">
<h2>9.1. A First Look<a class="headerlink" href="#a-first-look">¶</a></h2>
<p>Look at <code class="docutils literal"><span class="pre">MyClass</span></code> below:</p>
<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span><span class="k">class</span> <span class="nc">MyClass</span><span class="p">:</span>
    <span class="sd">&quot;&quot;&quot;A simple example class&quot;&quot;&quot;</span>
    <span class="n">i</span> <span class="o">=</span> <span class="mi">12345</span>

    <span class="k">def</span> <span class="nf">f</span><span class="p">(</span><span class="bp">self</span><span class="p">):</span>
        <span class="k">return</span> <span class="s1">&#39;hello &lt;world&gt;&#39;</span>
</pre></div></div>
<ul class="simple">
<li><p>first point</p></li>
<li><p>second point</p>
<ul><li><p>nested point</p></li></ul></li>
</ul>
<table class="docutils align-default">
<thead><tr class="row-odd"><th class="head"><p>Operation</p></th><th class="head"><p>Result</p></th></tr></thead>
<tbody><tr class="row-even"><td><p><code>x or y</code></p></td><td><p>if x is false, then y</p></td></tr></tbody>
</table>
<section id="empty-sub"><h3>9.1.1. Empty Sub<a class="headerlink" href="#empty-sub">¶</a></h3></section>
</section>
<section id="functions">
<h2>9.2. Functions<a class="headerlink" href="#functions">¶</a></h2>
<p>Some functions follow.</p>
<dl class="py function">
<dt class="sig sig-object py" id="mod.cache">
<span class="sig-prename descclassname"><span class="pre">mod.</span></span><span class="sig-name descname"><span class="pre">cache</span></span><span class="sig-paren">(</span><em class="sig-param"><span class="n">user_function</span></em><span class="sig-paren">)</span><a class="headerlink" href="#mod.cache">¶</a></dt>
<dd><p>Simple lightweight cache.</p></dd></dl>
<p>Text after the function belongs to the section again.</p>
</section>
</section>
<div class="clearer"></div>
</div></div></div>
<div class="sphinxsidebar" role="navigation" aria-label="main navigation">
<h3>Table of Contents</h3><ul><li><a href="#">SIDEBAR LINK</a></li></ul>
<form class="search"><input type="text" name="q"/></form></div>
</div>
<div class="footer">&#169; Copyright FOOTER TEXT.</div>
</body></html>
"""


def load_page(tmp_path: Path, html: str, name: str = "page.html", **kwargs: object):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return load_file(path, name, max_bytes=MAX, **kwargs)  # type: ignore[arg-type]


def test_sphinx_page_sections_anchors_and_title(tmp_path: Path) -> None:
    doc = load_page(tmp_path, SPHINX_PAGE)
    assert doc.kind == "html"
    assert doc.title == "9. Classes"  # the content's <h1>, not the <title> with its suffix
    assert [(s.headings, s.anchor) for s in doc.sections] == [
        (("9. Classes",), "classes"),
        (("9. Classes", "9.1. A First Look"), "a-first-look"),
        (("9. Classes", "9.2. Functions"), "functions"),
        (("9. Classes", "9.2. Functions", "mod.cache"), "mod.cache"),
        (("9. Classes", "9.2. Functions"), "functions"),
    ]
    assert doc.sections[0].text == (
        "Classes provide a means of bundling data and functionality together."
    )


def test_sphinx_chrome_is_dropped(tmp_path: Path) -> None:
    text = load_page(tmp_path, SPHINX_PAGE).text
    for noise in ("¶", "SIDEBAR LINK", "FOOTER TEXT", "NOT CONTENT", "color:red", "index"):
        assert noise not in text


def test_pre_becomes_a_fenced_block_with_its_text_intact(tmp_path: Path) -> None:
    first_look = load_page(tmp_path, SPHINX_PAGE).sections[1].text
    assert (
        "```python\n"
        "class MyClass:\n"
        '    """A simple example class"""\n'
        "    i = 12345\n"
        "\n"
        "    def f(self):\n"
        "        return 'hello <world>'\n"
        "```"
    ) in first_look
    assert "Look at MyClass below:" in first_look


def test_lists_and_tables_become_text(tmp_path: Path) -> None:
    first_look = load_page(tmp_path, SPHINX_PAGE).sections[1].text
    assert "- first point\n- second point\n  - nested point" in first_look
    assert "| Operation | Result |\n| --- | --- |\n| x or y | if x is false, then y |" in first_look


def test_object_description_gets_its_own_section(tmp_path: Path) -> None:
    doc = load_page(tmp_path, SPHINX_PAGE)
    function = doc.sections[3]
    assert function.text == "mod.cache(user_function)\n\nSimple lightweight cache."
    assert doc.sections[4].text == "Text after the function belongs to the section again."


ARTICLE_PAGE = """<html><head><title>Blog: Gradient Descent</title></head><body>
<a class="visually-hidden" href="#main">Skip to content</a>
<header class="site"><h1>My Blog</h1><nav><a href="/">Home</a></nav></header>
<div id="cookie-banner" class="cookie-consent">We use cookies. <button>Accept</button></div>
<main id="main">
  <article>
    <header><h1 id="gd">Gradient Descent</h1><p>Posted today</p></header>
    <p>Take a step<br>downhill.</p>
    <h2 id="lr">Learning rate</h2>
    <p>Too big diverges.</p>
    <h5>Minor note</h5><p>Tiny detail.</p>
    <aside>Related posts</aside>
    <pre><code class="language-python">w -= lr * grad  # ``` inside code
</code></pre>
  </article>
</main>
<footer>Copyright</footer>
<noscript>Enable JS</noscript>
</body></html>"""


def test_article_page_main_content(tmp_path: Path) -> None:
    doc = load_page(tmp_path, ARTICLE_PAGE)
    assert doc.title == "Gradient Descent"
    assert [(s.headings, s.anchor) for s in doc.sections] == [
        (("Gradient Descent",), "gd"),
        (("Gradient Descent", "Learning rate"), "lr"),
    ]
    assert doc.sections[0].text == "Posted today\n\nTake a step\ndownhill."
    body = doc.sections[1].text
    assert body.startswith("Too big diverges.\n\nMinor note\n\nTiny detail.")
    assert "````python\nw -= lr * grad  # ``` inside code\n````" in body  # fence outgrows ```
    for noise in ("Skip to content", "My Blog", "Home", "cookies", "Related", "Copyright", "JS"):
        assert noise not in doc.text


def test_body_fallback_drops_site_header_and_keeps_text(tmp_path: Path) -> None:
    html = (
        "<html><body><header>Site banner</header><div>Loose <b>bold</b> text</div>"
        "<h2 id='s'>Section</h2><p>Para</p></body></html>"
    )
    doc = load_page(tmp_path, html, name="plain.htm")
    assert doc.title == "plain"  # no <h1>, no <title>: the file stem
    assert [(s.headings, s.text) for s in doc.sections] == [
        ((), "Loose bold text"),
        (("Section",), "Para"),
    ]


def test_title_falls_back_to_the_title_element(tmp_path: Path) -> None:
    doc = load_page(
        tmp_path, "<html><head><title> A  Page </title></head><body><p>x</p></body></html>"
    )
    assert doc.title == "A Page"


def test_html_without_text_is_empty(tmp_path: Path) -> None:
    # Scripts, styles and images carry no text. (A page whose only text is a menu is not
    # empty: trafilatura keeps what text there is when it finds no article.)
    html = "<html><body><script>x()</script><style>p{}</style><img src='a.png'></body></html>"
    with pytest.raises(SkippedSource, match=r"^empty"):
        load_page(tmp_path, html)


def test_declared_charset_is_used() -> None:
    html = "<html><head><meta charset='iso-8859-1'></head><body><h1>Café</h1><p>é</p></body></html>"
    doc = load_bytes(html.encode("latin-1"), "u", content_type="text/html", url="https://x.org/")
    assert doc.title == "Café"
    assert doc.url == "https://x.org/"
    header = load_bytes(
        html.replace("iso-8859-1", "utf-8").encode("latin-1"),
        "u",
        content_type="text/html; charset=ISO-8859-1",  # the header wins over <meta>
    )
    assert header.title == "Café"


def test_undeclared_non_utf8_html_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.html"
    path.write_bytes("<p>Café</p>".encode("latin-1"))
    with pytest.raises(SkippedSource, match="not valid UTF-8"):
        load_file(path, "old.html", max_bytes=MAX)


def test_real_python_docs_page() -> None:
    """Debian's python3.11-doc (``make system-deps``) gives a real Sphinx page to check."""
    page = PYTHON_DOCS / "library" / "functools.html"
    if not page.exists():
        pytest.fail(f"{page} is missing: run `make system-deps` (installs python3.11-doc)")
    doc = load_file(page, "library/functools.html", max_bytes=MAX)
    assert doc.title.startswith("functools — Higher-order functions")
    by_anchor = {s.anchor: s for s in doc.sections}
    lru = by_anchor["functools.lru_cache"]
    assert lru.headings[-1] == "functools.lru_cache"
    assert "@lru_cache(maxsize=32)\ndef get_pep(num):" in lru.text
    assert "¶" not in doc.text
    assert "Table of Contents" not in doc.text  # the sidebar
    assert "Previous topic" not in doc.text
    assert all(s.text.strip() for s in doc.sections)


def test_heading_anchor_comes_from_its_own_section_only(tmp_path: Path) -> None:
    html = (
        "<html><body><main><section id='outer'><h2>Outer</h2><p>a</p>"
        "<h3>Loose</h3><p>b</p><h3><a id='named'></a>Named</h3><p>c</p></section></main></body></html>"
    )
    doc = load_page(tmp_path, html)
    assert [(s.headings[-1], s.anchor) for s in doc.sections] == [
        ("Outer", "outer"),
        ("Loose", None),  # a later heading of the section does not borrow its id
        ("Named", "named"),
    ]


def test_code_inside_a_list_item_keeps_its_lines() -> None:
    html = (
        b"<html><body><main><ol><li><p>Install it:</p><div class='highlight-bash'>"
        b"<div class='highlight'><pre>pip install x\npip install y</pre></div></div></li>"
        b"<li>Second <ul><li>deep</li></ul></li></ol></main></body></html>"
    )
    doc = load_bytes(html, "https://x.org/setup.html", content_type="text/html")
    assert doc.title == "setup"
    assert doc.sections[0].text == (
        "1. Install it:\n  ```bash\n  pip install x\n  pip install y\n  ```\n2. Second\n  - deep"
    )


BLOG_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Feature scaling, explained | The ML Notebook</title>
<script>window.dataLayer = []; function gtag(){}</script>
<link rel="stylesheet" href="/assets/site.css"></head>
<body>
<div class="cookie-notice" id="cookie-consent">
  <p>We use cookies to analyse traffic and personalise ads. By continuing to browse you
  accept our cookie policy.</p>
  <a href="/privacy">Manage preferences</a> <a href="#" class="btn">Accept all</a>
</div>
<div class="topbar">
  <a class="brand" href="/">The ML Notebook</a>
  <ul class="menu"><li><a href="/">Home</a></li><li><a href="/archive">Archive</a></li>
  <li><a href="/about">About us</a></li><li><a href="/subscribe">Subscribe</a></li></ul>
</div>
<div class="container">
<div class="post">
  <h1 id="feature-scaling">Feature scaling, explained</h1>
  <p class="byline">By Ada Example, 4 March 2026</p>
  <p>Many learning algorithms compare features by distance or follow a gradient whose
  steps depend on each feature's range. When one feature is measured in metres and
  another in millimetres, the second dominates for no good reason.</p>
  <h2 id="standardisation">Standardisation</h2>
  <p>Standardisation subtracts the mean of each feature and divides by its standard
  deviation, so every feature has mean zero and unit variance. Fit the scaler on the
  training split only, then apply it to validation and test data.</p>
  <pre><code class="language-python">from sklearn.preprocessing import StandardScaler

scaler = StandardScaler().fit(X_train)
X_test_scaled = scaler.transform(X_test)
</code></pre>
  <h2 id="min-max">Min-max scaling</h2>
  <p>Min-max scaling maps each feature to the range from zero to one. It keeps the shape
  of the distribution but is sensitive to outliers, because a single extreme value sets
  the range for everyone else.</p>
  <table>
    <tr><th>method</th><th>robust to outliers</th></tr>
    <tr><td>standardisation</td><td>somewhat</td></tr>
    <tr><td>min-max</td><td>no</td></tr>
  </table>
</div>
<div class="sidebar">
  <h3>Related posts</h3>
  <ul><li><a href="/p/1">Ten pandas tricks you should know</a></li>
  <li><a href="/p/2">Why your model overfits</a></li></ul>
  <div class="newsletter"><h3>Newsletter</h3><p>Get one email a week. No spam.</p></div>
</div>
</div>
<div class="footer">
  <p>Copyright 2026 The ML Notebook. All rights reserved.</p>
  <p><a href="/privacy">Privacy</a> · <a href="/terms">Terms</a> · <a href="/rss">RSS</a></p>
</div>
</body></html>
"""


def test_ordinary_page_keeps_the_article_and_drops_menus_banners_and_footer(
    tmp_path: Path,
) -> None:
    """No <main>, no <nav>, no roles: only trafilatura's judgement tells article from clutter."""
    doc = load_page(tmp_path, BLOG_PAGE, name="scaling.html")
    assert doc.title == "Feature scaling, explained"
    assert [(s.headings, s.anchor) for s in doc.sections] == [
        (("Feature scaling, explained",), "feature-scaling"),
        (("Feature scaling, explained", "Standardisation"), "standardisation"),
        (("Feature scaling, explained", "Min-max scaling"), "min-max"),
    ]
    assert doc.sections[0].text.endswith("the second dominates for no good reason.")
    standard = doc.sections[1].text
    assert standard.startswith("Standardisation subtracts the mean of each feature")
    assert (
        "```python\nfrom sklearn.preprocessing import StandardScaler\n\n"
        "scaler = StandardScaler().fit(X_train)\nX_test_scaled = scaler.transform(X_test)\n```"
    ) in standard  # lines and language given back from the page
    assert doc.sections[2].text.endswith(
        "| method | robust to outliers |\n| --- | --- |\n| standardisation | somewhat |\n"
        "| min-max | no |"
    )
    for clutter in (
        "cookie", "Accept all", "Manage preferences", "Archive", "About us", "Subscribe",
        "Related posts", "pandas tricks", "Newsletter", "No spam", "Copyright", "Privacy",
        "RSS", "dataLayer",
    ):  # fmt: skip
        assert clutter not in doc.text, clutter


def test_sphinx_is_recognised_by_its_generator_or_options_script() -> None:
    body = (
        "<body><div><h1 id='t'>Title</h1><p>What the module offers, in a few words.</p>"
        "<dl class='py function'><dt class='sig' id='mod.f'>mod.f(x)</dt>"
        "<dd><p>Return f of x.</p></dd></dl></div></body>"
    )

    def sections(head: str) -> list[tuple[tuple[str, ...], str | None]]:
        html = f"<html><head>{head}</head>{body}</html>".encode()
        doc = load_bytes(html, "https://docs.example.org/t.html", content_type="text/html")
        return [(s.headings, s.anchor) for s in doc.sections]

    sphinx = [(("Title",), "t"), (("Title", "mod.f"), "mod.f")]  # the object's own section
    assert sections('<meta name="generator" content="Docutils 0.19: https://docutils.sourceforge.io/" />') == sphinx  # fmt: skip
    assert sections('<script src="../_static/documentation_options.js?v=5929fcd5"></script>') == sphinx  # fmt: skip
    assert sections('<meta name="generator" content="Hugo 0.120" />') != sphinx  # an article
