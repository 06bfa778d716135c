// The operator's page: asks for the admin key, keeps it in sessionStorage (this tab only,
// never in a URL), sends it as a Bearer header to GET /v1/admin/usage and draws the charts.

import { lineChart } from "/admin/chart.js";

const KEY = "study-assistant-admin-key";
const $ = (id) => document.getElementById(id);

const count = (v) => v.toLocaleString("en", { maximumFractionDigits: 1 });
const usd = (v) => (v === 0 ? "$0" : v >= 1 ? `$${v.toFixed(2)}` : `$${v.toPrecision(2)}`);
const ms = (v) => `${Math.round(v).toLocaleString("en")} ms`;

// What each chart shows: [id, title, format, [stats key, legend label]...].
const CHARTS = [
  ["questions", "Questions per day", count, [["queries", "questions"], ["cache_hits", "cache hits"]]],
  ["tokens", "Tokens per day", count, [["prompt_tokens", "prompt"], ["completion_tokens", "completion"], ["embed_tokens", "embedding"]]],
  ["cost", "Cost and cache savings per day (USD)", usd, [["cost_usd", "cost"], ["saved_usd", "saved by the cache"]]],
  ["latency", "Answer latency per day", ms, [["p50_total_ms", "p50"], ["p95_total_ms", "p95"]]],
];

function status(text, kind = "") {
  const p = $("status");
  p.textContent = text;
  p.className = kind;
}

function askForKey(message) {
  sessionStorage.removeItem(KEY);
  $("key-form").hidden = false;
  $("forget").hidden = true;
  $("charts").replaceChildren();
  $("totals").replaceChildren();
  $("totals").hidden = true;
  status(message, message ? "error" : "");
  $("key").focus();
}

function showTotals(t, first, last) {
  const items = [
    ["questions", count(t.queries)],
    ["tokens", count(t.prompt_tokens + t.completion_tokens + t.embed_tokens)],
    ["cost", usd(t.cost_usd)],
    ["saved by the cache", usd(t.saved_usd)],
    ["cache hit rate", `${(t.cache_hit_rate * 100).toFixed(1)}%`],
    ["latency p50 / p95", `${ms(t.p50_total_ms)} / ${ms(t.p95_total_ms)}`],
  ];
  const dl = document.createElement("dl");
  for (const [name, value] of items) {
    const div = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = name;
    dd.textContent = value;
    dd.dataset.total = name;
    div.append(dt, dd);
    dl.append(div);
  }
  const h = document.createElement("h2");
  h.textContent = `${first} to ${last} (UTC)`;
  $("totals").replaceChildren(h, dl);
  $("totals").hidden = false;
}

async function load() {
  const key = sessionStorage.getItem(KEY);
  if (!key) return askForKey("");
  const days = $("days").value;
  status("Loading…");
  let response;
  try {
    response = await fetch(`/v1/admin/usage?days=${encodeURIComponent(days)}`, {
      headers: { Authorization: `Bearer ${key}` },
      cache: "no-store",
    });
  } catch (err) {
    return status(`The service did not answer: ${err.message}`, "error");
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 401 || response.status === 403) {
    return askForKey(`Not accepted: ${body.error?.message ?? response.status}`);
  }
  if (!response.ok) {
    return status(`Error ${response.status}: ${body.error?.message ?? "unknown"}`, "error");
  }
  $("key-form").hidden = true;
  $("forget").hidden = false;
  const daysList = body.series.map((d) => d.day);
  $("charts").replaceChildren(
    ...CHARTS.map(([id, title, format, keys]) =>
      lineChart({
        id,
        title,
        days: daysList,
        format,
        series: keys.map(([k, label]) => ({ key: k, label, values: body.series.map((d) => d[k]) })),
      }),
    ),
  );
  showTotals(body.totals, body.first_day, body.last_day);
  status(`${daysList.length} days, updated ${new Date().toLocaleTimeString("en")}`);
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("key").value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY, key);
  $("key").value = "";
  load();
});
$("days").addEventListener("change", load);
$("refresh").addEventListener("click", load);
$("forget").addEventListener("click", () => askForKey("Key forgotten."));
load();
