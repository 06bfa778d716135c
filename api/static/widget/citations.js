/* Sources under an answer: the numbered list, the passage tooltip, and [n] markers' targets. */

import { h, nextId, safeHref } from "./dom.js";

/** Passages are shown as plain text: Markdown markers dropped, whitespace folded; a
 *  snippet the server cut mid-sentence ends with an ellipsis. */
export function plainSnippet(text) {
  const plain = String(text || "")
    .replace(/```[\w-]*/g, " ")
    .replace(/\*\*|__|`/g, "")
    .replace(/\s+/g, " ")
    .trim();
  return plain && !/[.!?:;)\]"']$/.test(plain) ? `${plain}…` : plain;
}

export function sectionLabel(c) {
  const title = c.title || "";
  let section = c.section || "";
  if (title && section.startsWith(title + " > ")) section = section.slice(title.length + 3);
  else if (section === title) section = "";
  return section;
}

export function installCitations(w) {
  const { shadow, panel, log, tip } = w.view;
  const tipState = { li: null, hideTimer: null };

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
      // Every source is a button that opens its passage whole in the side panel
      // (passages.js), which also links out when the source has a web address. A corpus
      // path (notes/x.md#anchor) is no address a browser can open: it is shown as text.
      const control = h("button", { type: "button", "aria-haspopup": "dialog" }, ...label);
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
      control.addEventListener("click", () => {
        hideTip(false);
        if (w.openPassage) w.openPassage(c, control);
        else showTip(li);
      });
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

  Object.assign(w, { hideTip, citationList, focusCitation });
}
