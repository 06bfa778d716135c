/*! Study Assistant chat widget: one script, no build step, no framework.
 *
 * Embed with a single tag (data-api defaults to the origin this script came from):
 *   <script src="https://HOST/widget.js" data-api="https://HOST" data-key="CLIENT_KEY" defer></script>
 *
 * Optional attributes: data-title (panel title), data-max-chars (question length limit,
 * default 2000, as ASSISTANT_MAX_QUESTION_CHARS), data-theme ("light" | "dark"; default
 * follows prefers-color-scheme), data-k (passages per answer).
 * data-key is a *client* key (ASSISTANT_API_KEYS); it is visible to every visitor, so
 * never put the admin key there. The widget only ever calls POST /v1/ask on data-api.
 *
 * Page API: window.StudyAssistant.open(), .close(), .ask(question), .newConversation().
 *
 * Safety: model text and passages become DOM nodes through createElement/textContent
 * only (a strict Markdown subset: paragraphs, lists, code, emphasis, http(s) links);
 * nothing from the network is ever parsed as HTML, and no image is ever created.
 */
(function () {
  "use strict";

  const TAG = "study-assistant";
  if (document.querySelector(TAG)) return; // included twice: keep the first

  const script =
    document.currentScript || document.querySelector('script[src*="widget.js"]');

  // ------------------------------------------------------------------ configuration
  function readConfig(el) {
    const d = (el && el.dataset) || {};
    const scriptUrl = el && el.src ? new URL(el.src, location.href) : new URL(location.href);
    let api = scriptUrl.origin;
    if (d.api) {
      try {
        const u = new URL(d.api, location.href);
        if (u.protocol === "http:" || u.protocol === "https:") api = u.href;
      } catch (_) {
        /* a malformed data-api falls back to the script's origin */
      }
    }
    const max = parseInt(d.maxChars, 10);
    const k = parseInt(d.k, 10);
    return {
      api: api.replace(/\/+$/, ""),
      key: d.key || "",
      title: d.title || "Study assistant",
      maxChars: max > 0 ? max : 2000,
      theme: d.theme === "light" || d.theme === "dark" ? d.theme : "auto",
      k: k >= 1 && k <= 50 ? k : null,
    };
  }
  const cfg = readConfig(script);

  // ------------------------------------------------------------------ DOM helpers
  // h("p", {class: "x"}, "text", child): attributes are ours, children become text nodes.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) el.append(child);
    return el;
  }

  /** The href to use for ``raw``, or null: only absolute http(s) URLs ever become links. */
  function safeHref(raw) {
    if (typeof raw !== "string" || !raw) return null;
    try {
      const u = new URL(raw.trim());
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (_) {
      return null;
    }
  }

  function externalLink(href) {
    return h("a", { href, target: "_blank", rel: "noopener noreferrer" });
  }

  let uid = 0;
  const nextId = (prefix) => `sa-${prefix}-${++uid}`;

  // ------------------------------------------------------------------ Markdown subset
  // One pass, left to right. Groups: 1-2 code, 3 image alt, 5-6 link, 7 citation,
  // 8/9 strong, 10/11 emphasis, 12 bare URL. Underscore forms must not touch word
  // characters, so snake_case_names stay as they are; a URL inside an HTML attribute
  // (src="...", href=...) is not turned into a link.
  const INLINE =
    /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|!\[([^\]\n]*)\]\(([^)\s]*)[^)\n]*\)|\[([^\]\n]+)\]\(([^)\s]+)(?:\s+"[^"\n]*")?\)|\[(\d{1,3})\]|\*\*(?=\S)([^\n]*?\S)\*\*|(?<!\w)__(?=\S)([^\n]*?\S)__(?!\w)|\*(?=[^\s*])([^*\n]*?[^\s*])\*|(?<!\w)_(?=[^\s_])([^_\n]*?[^\s_])_(?!\w)|(?<![\w"'=/])(https?:\/\/[^\s<>"'`()[\]]*[^\s<>"'`()[\].,;:!?])/g;

  function inline(parent, text, ctx, depth) {
    depth = depth || 0;
    if (depth > 4) {
      parent.append(text);
      return;
    }
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) parent.append(text.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[1]) {
        parent.append(h("code", null, m[2]));
      } else if (m[3] !== undefined) {
        // Images from the model are never loaded: show their description instead.
        parent.append(`[image: ${m[3] || "no description"}]`);
      } else if (m[5] !== undefined) {
        const href = ctx.inLink ? null : safeHref(m[6]);
        const target = href ? externalLink(href) : parent;
        inline(target, m[5], Object.assign({}, ctx, { inLink: true }), depth + 1);
        if (href) parent.append(target);
      } else if (m[7]) {
        parent.append(citationRef(Number(m[7]), ctx));
      } else if (m[8] || m[9]) {
        const el = h("strong");
        inline(el, m[8] || m[9], ctx, depth + 1);
        parent.append(el);
      } else if (m[10] || m[11]) {
        const el = h("em");
        inline(el, m[10] || m[11], ctx, depth + 1);
        parent.append(el);
      } else if (m[12]) {
        const href = ctx.inLink ? null : safeHref(m[12]);
        if (href) {
          const a = externalLink(href);
          a.textContent = m[12];
          parent.append(a);
        } else parent.append(m[12]);
      }
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  function citationRef(n, ctx) {
    const cite = ctx.citations && ctx.citations.get(n);
    if (!cite || !ctx.onCite) return h("span", { class: "ref" }, `[${n}]`);
    // The visible "[n]" stays the start of the accessible name (WCAG 2.5.3).
    return h(
      "button",
      { type: "button", class: "ref", onclick: () => ctx.onCite(n) },
      `[${n}]`,
      h("span", { class: "sr-only" }, ` source: ${cite.title || cite.source || ""}`),
    );
  }

  /** Markdown subset → DocumentFragment built from elements and text nodes only. */
  function renderMarkdown(src, ctx) {
    const frag = document.createDocumentFragment();
    const lines = String(src || "").replace(/\r\n?/g, "\n").split("\n");
    let para = [];
    let list = null; // {el, ordered}
    const flush = () => {
      if (!para.length) return;
      const p = h("p");
      para.forEach((line, j) => {
        if (j) p.append(h("br"));
        inline(p, line, ctx);
      });
      frag.append(p);
      para = [];
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const fence = /^\s*(`{3,}|~{3,})/.exec(line);
      if (fence) {
        flush();
        list = null;
        const body = [];
        while (++i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i]);
        // tabindex: a scrollable code block must be reachable by keyboard.
        frag.append(h("pre", { tabindex: "0" }, h("code", null, body.join("\n"))));
        continue;
      }
      if (!line.trim()) {
        flush();
        list = null;
        continue;
      }
      const ul = /^\s*[-*+]\s+(.*)$/.exec(line);
      const ol = /^\s*(\d{1,9})[.)]\s+(.*)$/.exec(line);
      if (ul || ol) {
        flush();
        const ordered = !!ol;
        if (!list || list.ordered !== ordered) {
          list = { ordered, el: h(ordered ? "ol" : "ul") };
          if (ordered && Number(ol[1]) !== 1) list.el.setAttribute("start", String(Number(ol[1])));
          frag.append(list.el);
        }
        const li = h("li");
        inline(li, ordered ? ol[2] : ul[1], ctx);
        list.el.append(li);
        continue;
      }
      if (list && /^\s{2,}\S/.test(line)) {
        const li = list.el.lastElementChild;
        li.append(" ");
        inline(li, line.trim(), ctx);
        continue;
      }
      list = null;
      const heading = /^\s*#{1,6}\s+(.*)$/.exec(line);
      if (heading) {
        flush();
        const strong = h("strong");
        inline(strong, heading[1], ctx);
        frag.append(h("p", { class: "heading" }, strong));
        continue;
      }
      para.push(line.replace(/^\s*>\s?/, ""));
    }
    flush();
    return frag;
  }

  /** Passages are shown as plain text: Markdown markers dropped, whitespace folded; a
   *  snippet the server cut mid-sentence ends with an ellipsis. */
  function plainSnippet(text) {
    const plain = String(text || "")
      .replace(/```[\w-]*/g, " ")
      .replace(/\*\*|__|`/g, "")
      .replace(/\s+/g, " ")
      .trim();
    return plain && !/[.!?:;)\]"']$/.test(plain) ? `${plain}…` : plain;
  }

  function sectionLabel(c) {
    const title = c.title || "";
    let section = c.section || "";
    if (title && section.startsWith(title + " > ")) section = section.slice(title.length + 3);
    else if (section === title) section = "";
    return section;
  }

  // ------------------------------------------------------------------ styles
  const CSS = `
:host { all: initial !important; }
.root {
  --bg: #ffffff; --fg: #1c2127; --muted: #555e69; --line: #d3d8de; --soft: #f2f4f7;
  --accent: #0b57d0; --accent-fg: #ffffff; --user: #0b57d0; --user-fg: #ffffff;
  --warn-bg: #fff4e5; --warn-fg: #7a3e00; --err-bg: #fdecec; --err-fg: #9b1c1c;
  --focus: #0b57d0; --shadow: 0 12px 32px rgba(15, 23, 42, .22);
  color-scheme: light;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); text-align: left; letter-spacing: normal; word-spacing: normal;
  text-transform: none; direction: ltr; -webkit-font-smoothing: antialiased;
}
.root.dark {
  --bg: #181b20; --fg: #e7eaee; --muted: #a9b1bb; --line: #3a414b; --soft: #232831;
  --accent: #8ab4f8; --accent-fg: #0d1420; --user: #2f5fb3; --user-fg: #ffffff;
  --warn-bg: #3b2a12; --warn-fg: #ffd8a8; --err-bg: #3d1c1c; --err-fg: #ffc9c9;
  --focus: #8ab4f8; --shadow: 0 12px 32px rgba(0, 0, 0, .6);
  color-scheme: dark;
}
@media (prefers-color-scheme: dark) {
  .root.auto {
    --bg: #181b20; --fg: #e7eaee; --muted: #a9b1bb; --line: #3a414b; --soft: #232831;
    --accent: #8ab4f8; --accent-fg: #0d1420; --user: #2f5fb3; --user-fg: #ffffff;
    --warn-bg: #3b2a12; --warn-fg: #ffd8a8; --err-bg: #3d1c1c; --err-fg: #ffc9c9;
    --focus: #8ab4f8; --shadow: 0 12px 32px rgba(0, 0, 0, .6);
    color-scheme: dark;
  }
}
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
button, textarea { font: inherit; color: inherit; }
button { cursor: pointer; }
button:disabled { cursor: not-allowed; opacity: .55; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.sr-only {
  position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
.launcher {
  position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
  display: inline-flex; align-items: center; gap: 8px; min-height: 48px;
  padding: 0 20px 0 16px; border: 0; border-radius: 24px;
  background: var(--accent); color: var(--accent-fg); font-weight: 600;
  box-shadow: var(--shadow);
}
.launcher .bubble-icon {
  display: inline-block; width: 18px; height: 14px; border-radius: 7px;
  border: 2px solid currentColor; position: relative;
}
.launcher .bubble-icon::after {
  content: ""; position: absolute; left: 2px; bottom: -6px; border: 4px solid transparent;
  border-top-color: currentColor; border-left-color: currentColor;
}
.panel {
  position: fixed; right: 20px; bottom: 80px; z-index: 2147483001;
  width: 400px; max-width: calc(100vw - 24px);
  height: 620px; max-height: calc(100vh - 100px);
  display: flex; flex-direction: column; overflow: hidden; overflow: clip;
  background: var(--bg); color: var(--fg); border: 1px solid var(--line);
  border-radius: 14px; box-shadow: var(--shadow);
}
.head {
  display: flex; align-items: center; gap: 6px; padding: 10px 10px 10px 16px;
  border-bottom: 1px solid var(--line);
}
.head h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 650; line-height: 1.3; }
.ghost {
  border: 1px solid var(--line); background: transparent; border-radius: 8px;
  min-height: 36px; padding: 4px 10px; font-size: 13px;
}
.ghost:hover { background: var(--soft); }
.close { min-width: 36px; font-size: 20px; line-height: 1; padding: 4px 8px; }
/* position: relative keeps the visually hidden helper text inside the scroller; without
   it that text overflows the panel, which then scrolls its own header out of view. */
.log {
  position: relative; flex: 1; min-height: 0; overflow-y: auto; padding: 12px 14px;
  overscroll-behavior: contain;
}
.empty { color: var(--muted); margin: 8px 2px; }
.msg { margin: 0 0 14px; }
.msg.user { display: flex; justify-content: flex-end; }
.msg.user .text {
  max-width: 85%; background: var(--user); color: var(--user-fg);
  padding: 8px 12px; border-radius: 14px 14px 4px 14px; white-space: pre-wrap;
  overflow-wrap: anywhere;
}
.msg.bot .text {
  background: var(--soft); padding: 8px 12px; border-radius: 14px 14px 14px 4px;
  overflow-wrap: anywhere;
}
.text p { margin: 0 0 8px; }
.text p:last-child { margin-bottom: 0; }
.text ul, .text ol { margin: 0 0 8px; padding-left: 22px; }
.text code {
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px;
  background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 0 3px;
}
.text pre {
  margin: 0 0 8px; padding: 8px; overflow-x: auto; background: var(--bg);
  border: 1px solid var(--line); border-radius: 6px;
}
.text pre code { border: 0; padding: 0; background: none; white-space: pre; }
.text a, .cites a { color: var(--accent); text-decoration: underline; }
.text[aria-busy="true"]::after {
  content: ""; display: inline-block; width: 7px; height: 14px; margin-left: 3px;
  vertical-align: -2px; background: var(--muted); animation: blink 1s steps(2) infinite;
}
@keyframes blink { 50% { opacity: 0; } }
@media (prefers-reduced-motion: reduce) { .text[aria-busy="true"]::after { animation: none; } }
.ref {
  border: 0; background: none; padding: 0 1px; color: var(--accent); font-size: .85em;
  vertical-align: super; line-height: 1; font-weight: 600;
}
span.ref { color: var(--muted); }
.note { color: var(--muted); font-size: 13px; margin: 6px 2px 0; }
.meta { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin: 6px 2px 0; }
.flag {
  font-size: 12px; color: var(--muted); border: 1px solid var(--line); border-radius: 10px;
  padding: 0 7px; line-height: 18px;
}
.flag.warn { color: var(--warn-fg); background: var(--warn-bg); border-color: transparent; }
.copy { margin-left: auto; min-height: 28px; padding: 2px 8px; font-size: 12px; }
.cites { list-style: none; margin: 8px 0 0; padding: 0; font-size: 13px; }
.cites li { margin: 0 0 6px; padding: 6px 8px; border: 1px solid var(--line); border-radius: 8px; }
.cite-link {
  display: inline; border: 0; background: none; padding: 0; text-align: left;
  color: var(--accent); font-size: 13px; text-decoration: underline;
}
.cite-num { font-weight: 700; }
.cite-title { font-weight: 600; }
.cite-section { color: var(--muted); }
.cites .cite-link .cite-section { color: inherit; }
.cite-path {
  display: block; color: var(--muted); font-size: 12px; overflow-wrap: anywhere;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}
.tip {
  position: fixed; z-index: 2147483002; max-width: 360px; margin: 0; padding: 8px 10px;
  background: var(--bg); color: var(--fg); border: 1px solid var(--accent); border-radius: 8px;
  box-shadow: var(--shadow); font-size: 13px; line-height: 1.4; overflow-wrap: anywhere;
}
.banner {
  margin: 0 12px 8px; padding: 8px 10px; border-radius: 8px; font-size: 14px;
  background: var(--err-bg); color: var(--err-fg); display: flex; gap: 8px;
  align-items: flex-start; flex-wrap: wrap;
}
.banner.info { background: var(--soft); color: var(--fg); }
.banner .msg-text { flex: 1 1 200px; margin: 0; }
.banner button { border: 1px solid currentColor; border-radius: 6px; background: transparent;
  padding: 2px 10px; min-height: 30px; font-size: 13px; }
.composer { border-top: 1px solid var(--line); padding: 10px 12px 12px; }
.composer textarea {
  display: block; width: 100%; min-height: 44px; max-height: 160px; resize: vertical;
  padding: 8px 10px; border: 1px solid var(--muted); border-radius: 8px;
  background: var(--bg); color: var(--fg); line-height: 1.4;
}
.composer textarea::placeholder { color: var(--muted); opacity: 1; }
.composer textarea[aria-invalid="true"] { border-color: var(--err-fg); }
.row { display: flex; align-items: center; gap: 8px; margin-top: 8px; }
.counter { flex: 1; font-size: 12px; color: var(--muted); }
.counter.over { color: var(--err-fg); font-weight: 600; }
.send, .stop { min-height: 36px; padding: 4px 14px; border-radius: 8px; font-weight: 600; }
.send { border: 0; background: var(--accent); color: var(--accent-fg); }
.stop { border: 1px solid var(--line); background: var(--bg); }
@media (max-width: 480px) {
  .panel {
    inset: 0; width: 100%; max-width: none; height: 100%; max-height: none;
    border-radius: 0; border: 0;
  }
  .launcher.open { visibility: hidden; }
  .launcher { right: 12px; bottom: 12px; }
}
@media print { .launcher, .panel { display: none !important; } }
`;

  function applyStyles(shadow) {
    // Constructable stylesheets need no 'unsafe-inline' under a host page's CSP.
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
      return;
    } catch (_) {
      /* older engines: fall back to a <style> element (needs style-src to allow it) */
    }
    const style = document.createElement("style");
    style.textContent = CSS;
    shadow.append(style);
  }

  // ------------------------------------------------------------------ messages
  const T = {
    intro:
      "Ask about any topic of the ML engineer roadmap. Answers cite the study notes they come from.",
    placeholder: "Ask a question…",
    hint: "Enter sends, Shift+Enter starts a new line, Escape closes.",
    down: "The study assistant service is unavailable right now. Your question is still in the box: try again in a moment.",
    cors: (origin) =>
      `This page (${origin}) is not allowed to use the study assistant service. The site owner must add it to ASSISTANT_CORS_ORIGINS.`,
    auth: "The study assistant refused this site's key. The site owner must check the widget's data-key.",
    tooLong: (n, max) => `Your question is ${n} characters; the limit is ${max}. Please shorten it.`,
    rate: "Too many questions in a short time.",
    rateAgain: "You can ask again in",
    rateDone: "You can ask again now.",
    notReady: "The study assistant is not ready yet: its study index is not loaded. Try again in a minute.",
    upstream: "The answering model did not respond. Try again in a moment.",
    failed: (status) => `The service could not answer (HTTP ${status}). Try again.`,
    cut: "The connection was lost before the answer finished.",
    stopped: "Stopped.",
    cached: "cached",
    cachedLong: "Answer from the cache",
    semantic: "cached (similar question)",
    semanticLong: "Answer reused from a similar earlier question",
    degraded: "simplified answer",
    degradedLong: "The model was unavailable, so this answer is built from the passages directly",
  };

  // ------------------------------------------------------------------ the widget
  const host = document.createElement(TAG);
  const shadow = host.attachShadow({ mode: "open" });
  applyStyles(shadow);

  const ids = {
    panel: nextId("panel"),
    title: nextId("title"),
    input: nextId("input"),
    counter: nextId("counter"),
    hint: nextId("hint"),
  };
  const root = h("div", { class: `root ${cfg.theme === "auto" ? "auto" : cfg.theme}` });
  const launcher = h(
    "button",
    {
      type: "button",
      class: "launcher",
      "aria-expanded": "false",
      "aria-controls": ids.panel,
      "aria-haspopup": "dialog",
    },
    h("span", { class: "bubble-icon", "aria-hidden": "true" }),
    h("span", null, "Ask a question"),
  );
  const newBtn = h("button", { type: "button", class: "ghost new" }, "New conversation");
  const closeBtn = h(
    "button",
    { type: "button", class: "ghost close", "aria-label": "Close the study assistant" },
    "×",
  );
  const log = h("div", {
    class: "log",
    role: "region",
    "aria-label": "Conversation",
    tabindex: "0",
  });
  const empty = h("p", { class: "empty" }, T.intro);
  log.append(empty);
  const bannerText = h("p", { class: "msg-text" });
  const bannerAction = h("button", { type: "button", hidden: true }, "Try again");
  const banner = h("div", { class: "banner", hidden: true }, bannerText, bannerAction);
  const input = h("textarea", {
    id: ids.input,
    rows: "2",
    placeholder: T.placeholder,
    "aria-describedby": `${ids.counter} ${ids.hint}`,
    autocomplete: "off",
  });
  const counter = h("span", { id: ids.counter, class: "counter" });
  const stopBtn = h("button", { type: "button", class: "stop", disabled: true }, "Stop");
  const sendBtn = h("button", { type: "submit", class: "send" }, "Send");
  const form = h(
    "form",
    { class: "composer", "aria-label": "Ask the study assistant" },
    h("label", { for: ids.input, class: "sr-only" }, "Your question"),
    input,
    h("span", { id: ids.hint, class: "sr-only" }, T.hint),
    h("div", { class: "row" }, counter, stopBtn, sendBtn),
  );
  // Two live regions: polite for progress and finished answers, assertive for errors.
  // Streamed tokens never go into either (a screen reader would read every word).
  const status = h("div", { class: "sr-only", role: "status", "aria-live": "polite" });
  const alertRegion = h("div", { class: "sr-only", role: "alert" });
  const panel = h(
    "div",
    {
      id: ids.panel,
      class: "panel",
      role: "dialog",
      "aria-modal": "false",
      "aria-labelledby": ids.title,
      hidden: true,
    },
    h("div", { class: "head" }, h("h2", { id: ids.title }, cfg.title), newBtn, closeBtn),
    log,
    banner,
    form,
  );
  // The passage tooltip (see showTip): shared, fixed, hidden from screen readers.
  const tip = h("p", { class: "tip", "aria-hidden": "true", hidden: true });
  const tipState = { li: null, hideTimer: null };
  root.append(launcher, panel, tip, status, alertRegion);
  shadow.append(root);

  const state = {
    open: false,
    busy: false,
    controller: null,
    conversationId: null,
    retryUntil: 0,
    retryTimer: null,
    retry: null, // what "Try again" does
  };

  // ------------------------------------------------------------------ open / close
  function open() {
    if (state.open) {
      input.focus();
      return;
    }
    state.open = true;
    panel.setAttribute("aria-modal", isPhone() ? "true" : "false");
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.classList.add("open");
    host.setAttribute("data-state", "open");
    input.focus();
  }

  function close() {
    if (!state.open) return;
    state.open = false;
    panel.hidden = true;
    hideTip(false);
    launcher.setAttribute("aria-expanded", "false");
    launcher.classList.remove("open");
    host.setAttribute("data-state", "closed");
    launcher.focus();
  }

  launcher.addEventListener("click", () => (state.open ? close() : open()));
  closeBtn.addEventListener("click", close);
  root.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    if (!tip.hidden) {
      hideTip(false); // Escape first dismisses a passage tooltip (WCAG 1.4.13)
    } else if (state.open) close();
    else return;
    e.preventDefault();
    e.stopPropagation();
  });

  // On a phone the panel covers the whole page, so it acts as a modal dialog: Tab wraps
  // inside it instead of wandering into the page hidden behind it.
  const phone = window.matchMedia ? window.matchMedia("(max-width: 480px)") : null;
  const isPhone = () => !!(phone && phone.matches);

  function tabbables() {
    return Array.from(panel.querySelectorAll("button, a[href], textarea, [tabindex]")).filter(
      (el) => !el.disabled && el.getAttribute("tabindex") !== "-1" && el.getClientRects().length,
    );
  }

  root.addEventListener("keydown", (e) => {
    if (e.key !== "Tab" || !state.open || !isPhone()) return;
    const items = tabbables();
    if (!items.length) return;
    const active = shadow.activeElement;
    if (e.shiftKey && (active === items[0] || !panel.contains(active))) {
      e.preventDefault();
      items[items.length - 1].focus();
    } else if (!e.shiftKey && active === items[items.length - 1]) {
      e.preventDefault();
      items[0].focus();
    }
  });

  // ------------------------------------------------------------------ announcements
  function announce(text, urgent) {
    const region = urgent ? alertRegion : status;
    // Clear first so the same sentence twice is still announced.
    region.textContent = "";
    setTimeout(() => {
      region.textContent = text;
    }, 30);
  }

  function showBanner(text, opts) {
    opts = opts || {};
    bannerText.textContent = "";
    if (Array.isArray(text)) bannerText.append(...text);
    else bannerText.textContent = text;
    banner.classList.toggle("info", !!opts.info);
    banner.setAttribute("data-kind", opts.kind || "error");
    state.retry = opts.retry || null;
    bannerAction.hidden = !opts.retry;
    banner.hidden = false;
  }

  function hideBanner() {
    banner.hidden = true;
    banner.removeAttribute("data-kind");
    state.retry = null;
  }

  bannerAction.addEventListener("click", () => {
    const retry = state.retry;
    hideBanner();
    if (retry) retry();
  });

  // ------------------------------------------------------------------ composer state
  const codePoints = (s) => Array.from(s).length;

  function questionLength() {
    return codePoints(input.value.trim());
  }

  function updateControls() {
    const n = questionLength();
    const over = n > cfg.maxChars;
    const waiting = state.retryUntil > Date.now();
    counter.textContent = over ? T.tooLong(n, cfg.maxChars) : `${n} / ${cfg.maxChars}`;
    counter.classList.toggle("over", over);
    input.setAttribute("aria-invalid", over ? "true" : "false");
    sendBtn.disabled = state.busy || over || waiting;
    stopBtn.disabled = !state.busy;
    if (waiting) {
      const left = Math.max(1, Math.ceil((state.retryUntil - Date.now()) / 1000));
      sendBtn.textContent = `Wait ${left} s`;
    } else sendBtn.textContent = "Send";
  }

  let wasOver = false;
  input.addEventListener("input", () => {
    updateControls();
    const over = questionLength() > cfg.maxChars;
    if (over !== wasOver) {
      wasOver = over;
      if (over) announce(T.tooLong(questionLength(), cfg.maxChars));
    }
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit ? form.requestSubmit() : submit();
    }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  stopBtn.addEventListener("click", () => {
    if (state.controller) state.controller.abort();
    input.focus();
  });
  newBtn.addEventListener("click", newConversation);

  function submit() {
    const question = input.value.trim();
    if (!question) {
      input.focus();
      return;
    }
    ask(question);
    // The clicked Send button is disabled while answering: keep focus in the box.
    if (state.open) input.focus();
  }

  function setBusy(busy) {
    state.busy = busy;
    updateControls();
  }

  function startCooldown(seconds) {
    state.retryUntil = Date.now() + seconds * 1000;
    const countdown = h("strong", { class: "countdown" });
    const tick = () => {
      const left = Math.ceil((state.retryUntil - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(state.retryTimer);
        state.retryTimer = null;
        state.retryUntil = 0;
        showBanner(T.rateDone, { info: true, kind: "ready" });
        announce(T.rateDone);
      } else countdown.textContent = `${left} s`;
      updateControls();
    };
    clearInterval(state.retryTimer);
    showBanner([`${T.rate} ${T.rateAgain} `, countdown, "."], { kind: "rate-limited" });
    tick();
    state.retryTimer = setInterval(tick, 500);
    announce(`${T.rate} ${T.rateAgain} ${seconds} seconds.`, true);
  }

  /** Retry-After: delta-seconds or an HTTP date; a sane default when missing. */
  function retryAfterSeconds(res, message) {
    const raw = res.headers.get("Retry-After");
    if (raw) {
      const n = Number(raw);
      if (Number.isFinite(n) && n >= 0) return Math.max(1, Math.ceil(n));
      const at = Date.parse(raw);
      if (!Number.isNaN(at)) return Math.max(1, Math.ceil((at - Date.now()) / 1000));
    }
    const m = /retry in (\d+)/i.exec(message || "");
    return m ? Math.max(1, Number(m[1])) : 30;
  }

  // ------------------------------------------------------------------ conversation
  function scrollToEnd(force) {
    const near = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    if (force || near) log.scrollTop = log.scrollHeight;
  }

  function newConversation() {
    if (state.controller) state.controller.abort();
    state.conversationId = null;
    log.replaceChildren(empty);
    hideBanner();
    if (state.retryUntil > Date.now()) startCooldown(Math.ceil((state.retryUntil - Date.now()) / 1000));
    announce("New conversation started.");
    input.focus();
  }

  function addTurn(question) {
    empty.remove();
    const user = h(
      "div",
      { class: "msg user" },
      h("span", { class: "sr-only" }, "You asked: "),
      h("div", { class: "text" }, question),
    );
    const text = h("div", { class: "text", "aria-busy": "true" });
    const bot = h("div", { class: "msg bot" }, h("span", { class: "sr-only" }, "Answer: "), text);
    log.append(user, bot);
    scrollToEnd(true);
    return { question, user, bot, text, answer: "", done: false };
  }

  function renderStreaming(turn) {
    turn.text.replaceChildren(renderMarkdown(turn.answer, {}));
    scrollToEnd(false);
  }

  // One shared tooltip shows a passage on hover or focus. It is position: fixed, so showing
  // it never moves the conversation under the pointer, and the log's scrolling never clips
  // it. Screen readers get the same text through aria-describedby instead.
  function placeTip(li) {
    const r = li.getBoundingClientRect();
    const p = panel.getBoundingClientRect();
    const area = log.getBoundingClientRect(); // never over the header or the composer
    const width = Math.max(160, Math.min(p.width - 24, 360));
    tip.style.width = `${width}px`;
    tip.style.left = `${Math.max(p.left + 12, Math.min(r.left, p.right - 12 - width))}px`;
    const height = tip.offsetHeight;
    // Above the source when it fits (the sources below stay readable), else below it.
    let top = r.top - height - 6;
    if (top < area.top + 4) top = Math.min(r.bottom + 6, window.innerHeight - height - 8);
    tip.style.top = `${Math.max(4, top)}px`;
  }

  function showTip(li) {
    clearTimeout(tipState.hideTimer);
    tipState.li = li;
    tip.textContent = li.getAttribute("data-snippet") || "";
    tip.hidden = !tip.textContent;
    if (!tip.hidden) placeTip(li);
  }

  function hideTip(later) {
    clearTimeout(tipState.hideTimer);
    const hide = () => {
      tip.hidden = true;
      tipState.li = null;
    };
    if (later) tipState.hideTimer = setTimeout(hide, 150);
    else hide();
  }

  log.addEventListener("scroll", () => {
    if (tipState.li) placeTip(tipState.li);
  });
  // The pointer may move onto the tooltip without losing it (WCAG 1.4.13).
  tip.addEventListener("mouseenter", () => clearTimeout(tipState.hideTimer));
  tip.addEventListener("mouseleave", () => hideTip(true));

  function citationList(turn, citations) {
    const list = h("ol", { class: "cites", "aria-label": "Sources" });
    const byId = new Map();
    for (const c of citations) {
      const n = Number(c.id);
      const snippetId = nextId("snippet");
      const snippet = plainSnippet(c.snippet);
      const section = sectionLabel(c);
      const label = [
        h("span", { class: "cite-num" }, `[${n}] `),
        h("span", { class: "cite-title" }, c.title || c.source || "Source"),
        section ? h("span", { class: "cite-section" }, ` — ${section}`) : null,
      ].filter(Boolean);
      const href = safeHref(c.url);
      let control;
      if (href) {
        control = externalLink(href);
        control.append(...label, h("span", { class: "sr-only" }, " (opens in a new tab)"));
      } else {
        // A corpus path (notes/x.md#anchor) is no address a browser can open: it is shown
        // as text, and the source is a button that shows its passage.
        control = h("button", { type: "button" }, ...label);
      }
      control.classList.add("cite-link");
      control.setAttribute("aria-describedby", snippetId);
      const li = h("li", { value: String(n), "data-cite": String(n), "data-snippet": snippet }, control);
      if (!href && c.url) li.append(h("span", { class: "cite-path" }, String(c.url)));
      li.append(h("span", { id: snippetId, class: "sr-only" }, snippet));
      li.addEventListener("mouseenter", () => showTip(li));
      li.addEventListener("mouseleave", () => {
        if (!li.contains(shadow.activeElement)) hideTip(true);
      });
      control.addEventListener("focus", () => showTip(li));
      control.addEventListener("blur", () => {
        if (!li.matches(":hover")) hideTip(false);
      });
      if (!href) control.addEventListener("click", () => showTip(li));
      list.append(li);
      byId.set(n, { li, control, title: c.title, source: c.source });
    }
    turn.cites = byId;
    return { list, byId };
  }

  function focusCitation(turn, n) {
    const entry = turn.cites && turn.cites.get(n);
    if (!entry) return;
    entry.control.focus();
    entry.li.scrollIntoView({ block: "nearest" });
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(
        () => true,
        () => legacyCopy(text),
      );
    }
    return Promise.resolve(legacyCopy(text));
  }

  function legacyCopy(text) {
    const area = h("textarea", { class: "sr-only", "aria-hidden": "true", tabindex: "-1" });
    area.value = text;
    root.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (_) {
      ok = false;
    }
    area.remove();
    return ok;
  }

  function finishTurn(turn, data) {
    turn.done = true;
    turn.answer = String(data.answer || turn.answer || "");
    if (data.conversation_id) state.conversationId = data.conversation_id;
    const citations = Array.isArray(data.citations) ? data.citations : [];
    const { list, byId } = citationList(turn, citations);
    const ctx = { citations: byId, onCite: (n) => focusCitation(turn, n) };
    turn.text.replaceChildren(renderMarkdown(turn.answer, ctx));
    turn.text.removeAttribute("aria-busy");

    const meta = h("div", { class: "meta" });
    if (data.cache === "hit" || data.cache === "semantic") {
      const semantic = data.cache === "semantic";
      meta.append(
        h(
          "span",
          { class: "flag cache", title: semantic ? T.semanticLong : T.cachedLong },
          semantic ? T.semantic : T.cached,
          h("span", { class: "sr-only" }, `: ${semantic ? T.semanticLong : T.cachedLong}`),
        ),
      );
    }
    if (data.degraded) {
      meta.append(
        h(
          "span",
          { class: "flag warn degraded", title: T.degradedLong },
          T.degraded,
          h("span", { class: "sr-only" }, `: ${T.degradedLong}`),
        ),
      );
    }
    const copy = h(
      "button",
      { type: "button", class: "ghost copy", "aria-label": "Copy answer" },
      "Copy",
    );
    copy.addEventListener("click", async () => {
      const lines = [turn.answer];
      if (citations.length) {
        lines.push("", "Sources:");
        for (const c of citations) {
          const section = sectionLabel(c);
          lines.push(`[${c.id}] ${c.title || c.source}${section ? " — " + section : ""}${c.url ? " (" + c.url + ")" : ""}`);
        }
      }
      const ok = await copyText(lines.join("\n"));
      copy.textContent = ok ? "Copied" : "Copy failed";
      announce(ok ? "Answer copied." : "Could not copy the answer.");
      setTimeout(() => {
        copy.textContent = "Copy";
      }, 2000);
    });
    meta.append(copy);
    turn.bot.append(meta);
    if (data.roadmap) turn.bot.append(h("p", { class: "note roadmap" }, String(data.roadmap)));
    if (citations.length) turn.bot.append(list);
    scrollToEnd(false);
    const sources = citations.length
      ? ` ${citations.length} source${citations.length > 1 ? "s" : ""} listed below.`
      : "";
    announce(`Answer: ${turn.text.textContent}${sources}`);
  }

  /** Ends a turn that got no answer: the question goes back into the box, nothing is lost. */
  function dropTurn(turn) {
    turn.user.remove();
    turn.bot.remove();
    if (!log.querySelector(".msg")) log.append(empty);
    if (!input.value.trim()) input.value = turn.question;
    updateControls();
  }

  function interruptTurn(turn, note) {
    turn.text.removeAttribute("aria-busy");
    if (!turn.answer) {
      dropTurn(turn);
      return false;
    }
    renderStreaming(turn);
    turn.bot.append(h("p", { class: "note" }, note));
    return true;
  }

  // ------------------------------------------------------------------ the request
  async function reachable() {
    // An opaque (no-cors) request succeeds whenever the server answers at all, so after a
    // failed CORS request it tells "origin not allowed" apart from "service down".
    try {
      await fetch(`${cfg.api}/widget.js`, { mode: "no-cors", cache: "no-store", credentials: "omit" });
      return true;
    } catch (_) {
      return false;
    }
  }

  async function readJson(res) {
    try {
      return await res.json();
    } catch (_) {
      return null;
    }
  }

  /** What to tell the reader about a failed request, and whether "Try again" makes sense. */
  function describeFailure(status, message, question) {
    if (status === 401 || status === 403) return { text: T.auth, retry: false };
    if (status === 413) return { text: T.tooLong(codePoints(question), cfg.maxChars), retry: false };
    if (status === 422) {
      return { text: `The question was not accepted: ${message || "invalid input"}.`, retry: false };
    }
    if (status === 503) return { text: T.notReady, retry: true };
    if (status === 502 || status === 504) return { text: T.upstream, retry: true };
    return { text: T.failed(status), retry: true };
  }

  function reportFailure(turn, status, message) {
    const { text, retry } = describeFailure(status, message, turn.question);
    // A partial answer stays on screen with a note; with no text, the turn is undone.
    const kept = interruptTurn(turn, text);
    showBanner(text, { retry: retry ? () => ask(turn.question) : null, kind: `http-${status}` });
    announce(kept ? `${text} The partial answer is kept.` : text, true);
  }

  async function httpError(res, turn) {
    const body = await readJson(res);
    const message = (body && body.error && body.error.message) || "";
    if (res.status === 429) {
      dropTurn(turn);
      startCooldown(retryAfterSeconds(res, message));
      return;
    }
    reportFailure(turn, res.status, message);
  }

  /** Reads server-sent events from a fetch body; calls onEvent per event, onChunk per read. */
  async function readEvents(res, onEvent, onChunk) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (!line || line[0] === ":") continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let v = colon < 0 ? "" : line.slice(colon + 1);
          if (v[0] === " ") v = v.slice(1);
          if (field === "event") event = v;
          else if (field === "data") data.push(v);
        }
        if (data.length && onEvent(event, data.join("\n")) === false) {
          await reader.cancel();
          return;
        }
      }
      onChunk();
    }
  }

  async function ask(question) {
    question = String(question || "").trim();
    if (!question) return;
    if (state.busy) {
      input.value = question;
      updateControls();
      return;
    }
    if (state.retryUntil > Date.now()) {
      input.value = question;
      updateControls();
      return;
    }
    const n = codePoints(question);
    if (n > cfg.maxChars) {
      input.value = question;
      updateControls();
      const text = T.tooLong(n, cfg.maxChars);
      showBanner(text, { kind: "too-long" });
      announce(text, true);
      return;
    }
    hideBanner();
    const turn = addTurn(question);
    input.value = "";
    const controller = new AbortController();
    state.controller = controller;
    setBusy(true);
    announce("Looking through the study material…");

    const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
    if (cfg.key) headers.Authorization = `Bearer ${cfg.key}`;
    const body = { question, stream: true };
    if (state.conversationId) body.conversation_id = state.conversationId;
    if (cfg.k) body.k = cfg.k;

    try {
      let res;
      try {
        res = await fetch(`${cfg.api}/v1/ask`, {
          method: "POST",
          mode: "cors",
          credentials: "omit",
          cache: "no-store",
          headers,
          body: JSON.stringify(body),
          signal: controller.signal,
        });
      } catch (err) {
        if (controller.signal.aborted) {
          interruptTurn(turn, T.stopped);
          announce(T.stopped);
          return;
        }
        dropTurn(turn);
        const cors = await reachable();
        const text = cors ? T.cors(location.origin) : T.down;
        showBanner(text, { retry: cors ? null : () => ask(input.value || question), kind: cors ? "cors" : "down" });
        announce(text, true);
        return;
      }
      if (!res.ok) {
        await httpError(res, turn);
        return;
      }
      if (!(res.headers.get("Content-Type") || "").includes("text/event-stream")) {
        const data = await readJson(res);
        if (data && typeof data.answer === "string") finishTurn(turn, data);
        else interruptTurn(turn, T.cut);
        return;
      }
      let failure = null; // an `error` event: {status, message}
      await readEvents(
        res,
        (event, raw) => {
          let data;
          try {
            data = JSON.parse(raw);
          } catch (_) {
            return true; // a malformed event is skipped, not fatal
          }
          if (event === "meta" && data.conversation_id) state.conversationId = data.conversation_id;
          else if (event === "delta") turn.answer += String(data.text || "");
          else if (event === "done") {
            finishTurn(turn, data);
            return false;
          } else if (event === "error") {
            failure = data.error || {};
            return false;
          }
          return true;
        },
        () => {
          if (!turn.done) renderStreaming(turn);
        },
      );
      if (turn.done) return;
      if (failure) {
        reportFailure(turn, Number(failure.status) || 500, String(failure.message || ""));
        return;
      }
      const kept = interruptTurn(turn, T.cut);
      showBanner(T.cut, { retry: () => ask(question), kind: "interrupted" });
      announce(kept ? `${T.cut} The partial answer is kept.` : T.cut, true);
    } catch (err) {
      if (controller.signal.aborted) {
        interruptTurn(turn, T.stopped);
        announce(T.stopped);
      } else {
        interruptTurn(turn, T.cut);
        showBanner(T.cut, { retry: () => ask(question), kind: "interrupted" });
        announce(T.cut, true);
      }
    } finally {
      if (state.controller === controller) state.controller = null;
      setBusy(false);
    }
  }

  // ------------------------------------------------------------------ start
  updateControls();
  host.setAttribute("data-state", "closed");
  if (!window.StudyAssistant) {
    window.StudyAssistant = Object.freeze({
      open,
      close,
      newConversation,
      ask(question) {
        open();
        return ask(question);
      },
    });
  }
  const mount = () => {
    document.body.append(host);
    document.dispatchEvent(new CustomEvent("study-assistant:ready"));
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
})();
