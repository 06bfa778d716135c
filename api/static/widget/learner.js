/* The study coach's HTTP client: who the learner is, and every way a coach request fails.
 *
 * With API keys the widget's data-key is the learner (sent as the chat sends it). Without
 * keys the server issues a learner id in the X-Learner-Id response header; it is kept in
 * localStorage (one per service address) and sent back, so a reload shows the same progress.
 */

import { T } from "./messages.js";
import { reachable } from "./net.js";

const HEADER = "X-Learner-Id";

function storageKey(api) {
  return `study-assistant.learner:${api}`;
}

/** The stored learner id, or "" (localStorage may be unavailable: private mode, sandbox). */
export function readLearner(api) {
  try {
    return window.localStorage.getItem(storageKey(api)) || "";
  } catch (_) {
    return "";
  }
}

function saveLearner(api, id) {
  // The server's ids are hex; anything else is not stored (and never echoed anywhere).
  if (!/^[A-Za-z0-9_-]{8,128}$/.test(id)) return;
  try {
    window.localStorage.setItem(storageKey(api), id);
  } catch (_) {
    /* not persisted: this page view still works, a reload starts a new learner */
  }
}

/** The sentence for a failed coach request (``status`` 0: no answer at all). */
export function describeCoachFailure(status, message) {
  if (status === 401 || status === 403) return T.auth;
  if (status === 404) return message ? `${T.coachMissing} (${message})` : T.coachMissing;
  if (status === 409) return T.coachConflict;
  if (status === 422) return `${T.coachRejected}: ${message || "invalid input"}.`;
  if (status === 429) return T.rate;
  if (status === 503) return message ? `${T.coachUnavailable} (${message})` : T.coachUnavailable;
  return T.failed(status);
}

export function installLearner(w) {
  const { cfg } = w;


  /** One JSON request to the coach: {ok, status, data, message, kind}; never throws. */
  async function coachFetch(path, opts) {
    opts = opts || {};
    const headers = { Accept: "application/json" };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    if (cfg.key) headers.Authorization = `Bearer ${cfg.key}`;
    const learner = readLearner(cfg.api);
    if (learner) headers[HEADER] = learner;
    let res;
    try {
      res = await fetch(`${cfg.api}${path}`, {
        method: opts.method || "GET",
        mode: "cors",
        credentials: "omit",
        cache: "no-store",
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
    } catch (_) {
      const cors = await reachable(cfg.api);
      return {
        ok: false,
        status: 0,
        kind: cors ? "cors" : "down",
        message: cors ? T.cors(location.origin) : T.coachDown,
      };
    }
    const issued = res.headers.get(HEADER);
    if (issued) saveLearner(cfg.api, issued);
    let data = null;
    try {
      // opts.text: a document (history.js's Markdown export), not JSON, when it succeeds.
      data = opts.text && res.ok ? await res.text() : await res.json();
    } catch (_) {
      data = null;
    }
    if (res.ok && data) return { ok: true, status: res.status, data };
    const detail = (data && data.error && String(data.error.message || "")) || "";
    return {
      ok: false,
      status: res.status,
      kind: `http-${res.status}`,
      message: describeCoachFailure(res.status, detail),
    };
  }

  Object.assign(w, { coachFetch });
}
