/* The widget's Markdown subset: model text → a DocumentFragment of elements and text nodes.
 *
 * This module is the XSS boundary. Model text never reaches an HTML parser: every element
 * is made with createElement, every piece of text is a text node, only absolute http(s)
 * URLs become links (new tab, no opener), and no image is ever created (an image becomes
 * its description). Raw HTML in the model's text is shown as text.
 *
 * Supported: paragraphs, "-"/"*"/"+" and numbered lists, fenced code, inline code,
 * **strong**, *emphasis*, [links](https://...), bare http(s) URLs, GFM pipe tables,
 * "# headings" (shown as bold paragraphs), "> quotes" (shown as plain paragraphs) and
 * citation markers [n].
 */

import { externalLink, h, safeHref } from "./dom.js";

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

// GFM pipe tables: a header row, then a delimiter row (---, :--, :-:, --:) with as many
// cells, then body rows up to a blank line or a line without a pipe. Cells split on
// unescaped pipes ("\|" is a literal pipe); a short row is padded, extra cells are dropped.
const DELIMITER = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

/** The table that starts at lines[i], or null: {header, aligns, rows, end (last line)}. */
function tableAt(lines, i) {
  const delimiter = lines[i + 1];
  if (delimiter === undefined || !lines[i].includes("|") || !delimiter.includes("|")) return null;
  if (!DELIMITER.test(delimiter)) return null;
  const header = splitRow(lines[i]);
  const aligns = splitRow(delimiter).map((d) =>
    d.endsWith(":") ? (d.startsWith(":") ? "center" : "right") : d.startsWith(":") ? "left" : null,
  );
  if (header.length !== aligns.length) return null;
  const rows = [];
  let end = i + 1;
  while (end + 1 < lines.length && lines[end + 1].trim() && lines[end + 1].includes("|")) {
    rows.push(splitRow(lines[++end]));
  }
  return { header, aligns, rows, end };
}

function renderTable(table, ctx) {
  const cell = (tag, text, j, attrs) => {
    const el = h(tag, { class: table.aligns[j] ? `align-${table.aligns[j]}` : null, ...attrs });
    inline(el, text, ctx);
    return el;
  };
  const head = h("tr", null, ...table.header.map((text, j) => cell("th", text, j, { scope: "col" })));
  const body = table.rows.map((row) =>
    h("tr", null, ...table.header.map((_, j) => cell("td", row[j] || "", j))),
  );
  const el = h("table", null, h("thead", null, head), body.length ? h("tbody", null, ...body) : null);
  // A wide table scrolls on its own; tabindex keeps that scroller reachable by keyboard.
  return h("div", { class: "table-wrap", tabindex: "0" }, el);
}

/** Markdown subset → DocumentFragment built from elements and text nodes only. */
export function renderMarkdown(src, ctx = {}) {
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
    const table = tableAt(lines, i);
    if (table) {
      flush();
      list = null;
      frag.append(renderTable(table, ctx));
      i = table.end;
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
