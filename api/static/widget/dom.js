/* DOM helpers shared by the widget's modules: elements are built from data, never parsed
 * from markup. */

// h("p", {class: "x"}, "text", child): attributes are ours, children become text nodes.
export function h(tag, attrs, ...children) {
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
export function safeHref(raw) {
  if (typeof raw !== "string" || !raw) return null;
  try {
    const u = new URL(raw.trim());
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch (_) {
    return null;
  }
}

export function externalLink(href) {
  return h("a", { href, target: "_blank", rel: "noopener noreferrer" });
}

let uid = 0;
export const nextId = (prefix) => `sa-${prefix}-${++uid}`;

/** Length as a reader counts it (and the server's limit does): code points, not UTF-16 units. */
export const codePoints = (s) => Array.from(s).length;
