/* Pieces shared by the Quiz and Progress views: inline errors, cited passages, prompts.
 * Prompts, passages and topic names come from the corpus: they only ever become text nodes. */

import { plainSnippet, sectionLabel } from "./citations.js";
import { externalLink, h, safeHref } from "./dom.js";

/** Corpus text with `code` spans as <code>: split on backticks, every piece a text node. */
export function inlineCode(text) {
  const parts = String(text || "").split("`");
  if (parts.length % 2 === 0) return [parts.join("`")]; // unbalanced: keep it literal
  return parts.map((part, i) => (i % 2 ? h("code", null, part) : part)).filter((p) => p !== "");
}

/** An inline error with an optional "Try again" (the chat's banner look, inside a view). */
export function errorBox(text, kind, retry) {
  const box = h(
    "div",
    { class: "banner coach-error", "data-kind": kind || "error" },
    h("p", { class: "msg-text" }, text),
  );
  if (retry) {
    box.append(
      h("button", { type: "button", onclick: () => retry() }, "Try again"),
    );
  }
  return box;
}

/** A cited passage: "Source: title — section" (a link when it has a web address) and
 *  the passage itself as plain text. */
export function citationBlock(c, label) {
  if (!c || (!c.title && !c.source)) return null;
  const section = sectionLabel(c);
  const name = [
    h("span", { class: "cite-title" }, c.title || c.source || "Source"),
    section ? h("span", { class: "cite-section" }, ` — ${section}`) : null,
  ].filter(Boolean);
  const href = safeHref(c.url);
  let title;
  if (href) {
    title = externalLink(href);
    title.classList.add("cite-link");
    title.append(...name, h("span", { class: "sr-only" }, " (opens in a new tab)"));
  } else {
    title = h("span", null, ...name);
  }
  const block = h(
    "div",
    { class: "coach-cite" },
    h("p", { class: "coach-cite-head" }, `${label || "Source"}: `, title),
  );
  if (!href && c.source) block.append(h("span", { class: "cite-path" }, String(c.source)));
  const snippet = plainSnippet(c.snippet);
  if (snippet) block.append(h("blockquote", { class: "coach-passage" }, snippet));
  return block;
}

export const percent = (share) => Math.round(Math.max(0, Math.min(1, Number(share) || 0)) * 100);

/** "1 card", "3 cards". */
export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
