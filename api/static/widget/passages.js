/* The passage side panel: a cited passage whole (GET /v1/passages/{chunk_id}), its heading
 * path and roadmap phase, a link out when the source has a web address, and Previous/Next
 * to the passages around it in its source. So a citation without a URL is still readable.
 *
 * Beside the chat panel on a wide screen; over it on a narrow one (then Tab stays inside).
 * Escape or the close button closes it and puts focus back on the citation that opened it. */

import { externalLink, h, nextId, safeHref } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { T } from "./messages.js";
import { reachable } from "./net.js";

const OVERLAY = "(max-width: 860px)"; // narrower: the side panel covers the chat panel

export function installPassages(w) {
  const { cfg, view } = w;
  const { host, root, input, tip } = view;
  const announce = (...args) => w.announce(...args);
  const cache = new Map(); // chunk id -> passage JSON (one index version per page view)
  const st = { open: false, opener: null, id: null, seq: 0 };

  const titleId = nextId("passage-title");
  const title = h("h3", { id: titleId, class: "passage-title", tabindex: "-1" });
  const closeBtn = h(
    "button",
    { type: "button", class: "ghost passage-close", "aria-label": "Close the passage" },
    "×",
  );
  const path = h("p", { class: "passage-path" });
  const meta = h("p", { class: "passage-meta" });
  const text = h("div", { class: "passage-text text", role: "region", "aria-label": "Passage", tabindex: "0" });
  const note = h("p", { class: "passage-note", hidden: true });
  const source = h("p", { class: "passage-source", hidden: true });
  const prev = h("button", { type: "button", class: "ghost passage-prev" });
  const next = h("button", { type: "button", class: "ghost passage-next" });
  const nav = h("nav", { class: "passage-nav", "aria-label": "Neighbouring passages" }, prev, next);
  const side = h(
    "aside",
    { class: "passage", role: "dialog", "aria-modal": "false", "aria-labelledby": titleId, hidden: true },
    h("div", { class: "passage-head" }, title, closeBtn),
    path,
    meta,
    text,
    note,
    source,
    nav,
  );
  root.append(side);
  const overlay = window.matchMedia ? window.matchMedia(OVERLAY) : null;

  async function fetchPassage(id) {
    if (cache.has(id)) return { ok: true, data: cache.get(id) };
    const headers = { Accept: "application/json" };
    if (cfg.key) headers.Authorization = `Bearer ${cfg.key}`;
    let res;
    try {
      res = await fetch(`${cfg.api}/v1/passages/${encodeURIComponent(id)}`, {
        mode: "cors",
        credentials: "omit",
        cache: "no-store",
        headers,
      });
    } catch (_) {
      return { ok: false, message: (await reachable(cfg.api)) ? T.cors(location.origin) : T.passageDown };
    }
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      data = null;
    }
    if (res.ok && data && typeof data.text === "string") {
      cache.set(id, data);
      return { ok: true, data };
    }
    if (res.status === 404) return { ok: false, message: T.passageGone };
    if (res.status === 429) return { ok: false, message: T.rate };
    if (res.status === 401 || res.status === 403) return { ok: false, message: T.auth };
    return { ok: false, message: T.failed(res.status) };
  }

  function headingPath(p) {
    const heads = (p.headings || []).slice();
    if (heads[0] === p.title) heads.shift();
    return heads.join(" › ");
  }

  function neighbour(button, n, label) {
    button.hidden = !n;
    if (!n) return;
    button.replaceChildren(
      h("span", { class: "passage-dir" }, label),
      h("span", { class: "passage-preview" }, String(n.preview || "").replace(/\*\*|__|`/g, "")),
    );
    button.onclick = () => show(n.chunk_id, null, true);
  }

  function render(p) {
    title.textContent = p.title || p.source || "Source";
    path.textContent = headingPath(p);
    path.hidden = !path.textContent;
    const phases = (p.phases || []).map((x) => `Phase ${x.number}${x.title ? `: ${x.title}` : ""}`);
    meta.textContent = [...phases, p.source, `passage ${p.position} of ${p.count}`].filter(Boolean).join(" · ");
    text.replaceChildren(renderMarkdown(p.text, {}));
    text.removeAttribute("aria-busy");
    note.hidden = true;
    const href = safeHref(p.url);
    source.hidden = !href;
    if (href) {
      const a = externalLink(href);
      a.className = "passage-link";
      a.append("Open the source", h("span", { class: "sr-only" }, " (opens in a new tab)"));
      source.replaceChildren(a);
    }
    neighbour(prev, p.previous, "Previous");
    neighbour(next, p.next, "Next");
  }

  /** Show passage ``id``; ``fallback`` (a citation) fills the panel while it loads or fails. */
  async function show(id, fallback, keepFocus) {
    const seq = ++st.seq;
    st.id = id;
    if (!st.open) {
      st.open = true;
      side.hidden = false;
      host.setAttribute("data-passage", "open");
    }
    if (fallback) {
      title.textContent = fallback.title || fallback.source || "Source";
      path.textContent = "";
      meta.textContent = fallback.source || "";
      text.replaceChildren(String(fallback.snippet || ""));
      source.hidden = true;
      prev.hidden = next.hidden = true;
    }
    text.setAttribute("aria-busy", "true");
    side.setAttribute("data-chunk", id);
    if (!keepFocus) title.focus();
    const got = await fetchPassage(id);
    if (seq !== st.seq || !st.open) return; // another passage was asked for meanwhile
    if (got.ok) {
      render(got.data);
      if (keepFocus) title.focus(); // Previous/Next may vanish at the ends of a source
      announce(`Passage: ${got.data.title}${path.textContent ? ", " + path.textContent : ""}.`);
    } else {
      text.removeAttribute("aria-busy");
      note.textContent = got.message;
      note.hidden = false;
      announce(got.message, true);
    }
  }

  function close(returnFocus) {
    if (!st.open) return;
    st.open = false;
    st.seq++;
    side.hidden = true;
    host.removeAttribute("data-passage");
    const to = st.opener;
    st.opener = null;
    if (returnFocus === false) return;
    if (to && to.isConnected) to.focus();
    else input.focus();
  }

  closeBtn.addEventListener("click", () => close());

  function tabbables() {
    return Array.from(side.querySelectorAll("button, a[href], [tabindex]")).filter(
      (el) => !el.disabled && el.getAttribute("tabindex") !== "-1" && el.getClientRects().length,
    );
  }

  // Capture phase: the side panel takes Escape (and, over the chat, Tab) before panel.js.
  root.addEventListener(
    "keydown",
    (e) => {
      if (!st.open) return;
      if (e.key === "Escape" && tip.hidden) {
        e.preventDefault();
        e.stopPropagation();
        close();
      } else if (e.key === "Tab" && overlay && overlay.matches && side.contains(view.shadow.activeElement)) {
        const items = tabbables();
        const active = view.shadow.activeElement;
        const first = items[0];
        const last = items[items.length - 1];
        if (e.shiftKey && (active === first || active === title)) {
          e.preventDefault();
          last.focus();
        } else if (!e.shiftKey && active === last) {
          e.preventDefault();
          first.focus();
        }
        e.stopPropagation();
      }
    },
    true,
  );

  // The chat panel closing (its button, Escape, the launcher) closes the side panel too.
  new MutationObserver(() => {
    if (host.getAttribute("data-state") === "closed") close(false);
  }).observe(host, { attributes: true, attributeFilter: ["data-state"] });

  /** Open the passage a citation names; ``control`` gets focus back on close. */
  function openPassage(citation, control) {
    if (!citation || !citation.chunk_id) return;
    st.opener = control || null;
    show(String(citation.chunk_id), citation, false);
  }

  Object.assign(w, { openPassage, closePassage: close });
}
