// Line charts drawn as inline SVG with DOM calls only (the page's CSP has Trusted Types:
// no innerHTML). One chart: a time axis of days, one polyline and one circle per point
// for each series, y from 0 to a rounded maximum.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 220;
const PAD = { left: 64, right: 16, top: 14, bottom: 30 };

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// 1, 2 or 5 times a power of ten, at or above v (and above 0, so an empty chart has a scale).
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// days: ["2026-12-01", ...]; series: [{key, label, values: [number per day]}];
// format(v) -> string for axis labels and point titles.
export function lineChart({ id, title, days, series, format }) {
  const figure = document.createElement("figure");
  figure.className = "chart";
  figure.dataset.chart = id;
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  figure.append(caption);

  const svg = el("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": `${title}, ${days[0]} to ${days[days.length - 1]}`,
  });
  const w = WIDTH - PAD.left - PAD.right;
  const h = HEIGHT - PAD.top - PAD.bottom;
  const top = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const x = (i) => PAD.left + (days.length > 1 ? (i * w) / (days.length - 1) : w / 2);
  const y = (v) => PAD.top + h - (v / top) * h;

  for (const frac of [0, 0.5, 1]) {
    const yy = y(top * frac);
    svg.append(el("line", { class: "grid", x1: PAD.left, x2: PAD.left + w, y1: yy, y2: yy }));
    svg.append(
      el("text", { class: "tick", x: PAD.left - 6, y: yy + 4, "text-anchor": "end" }, format(top * frac)),
    );
  }
  const labelled = new Set([0, Math.floor((days.length - 1) / 2), days.length - 1]);
  for (const i of labelled) {
    const anchor = i === 0 ? "start" : i === days.length - 1 ? "end" : "middle";
    svg.append(
      el("text", { class: "tick", x: x(i), y: HEIGHT - 8, "text-anchor": anchor }, days[i].slice(5)),
    );
  }
  series.forEach((s, n) => {
    const g = el("g", { class: `series s${n}`, "data-series": s.key });
    const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    g.append(el("polyline", { class: "line", points }));
    s.values.forEach((v, i) => {
      const dot = el("circle", { class: "point", cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3 });
      dot.dataset.day = days[i];
      dot.dataset.value = String(v);
      dot.append(el("title", {}, `${days[i]} · ${s.label}: ${format(v)}`));
      g.append(dot);
    });
    svg.append(g);
  });
  figure.append(svg);

  const legend = document.createElement("ul");
  legend.className = "legend";
  series.forEach((s, n) => {
    const item = document.createElement("li");
    item.className = `s${n}`;
    item.textContent = s.label;
    legend.append(item);
  });
  figure.append(legend);
  return figure;
}
