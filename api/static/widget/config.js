/* The widget's settings, read from the data-* attributes of its <script> tag. */

export function readConfig(el) {
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
