// Whether the service answers at all, whatever its CORS policy: an opaque (no-cors) request
// succeeds whenever the server answers, so after a failed CORS request it tells "origin not
// allowed" apart from "service down". Used by the chat and the coach.
export async function reachable(api) {
  try {
    await fetch(`${api}/widget.js`, { mode: "no-cors", cache: "no-store", credentials: "omit" });
    return true;
  } catch (_) {
    return false;
  }
}
