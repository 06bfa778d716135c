/* Every sentence the widget shows or announces. */

export const T = {
  intro:
    "Ask about any topic of the ML engineer roadmap. Answers cite the study notes they come from.",
  placeholder: "Ask a question…",
  hint: "Enter sends, Shift+Enter starts a new line, Escape closes.",
  down: "The study assistant service is unavailable right now. Your question is still in the box: try again in a moment.",
  cors: (origin) =>
    `This page (${origin}) is not allowed to use the study assistant service. The site owner must add it to ASSISTANT_CORS_ORIGINS.`,
  auth: "The study assistant refused this site's key. The site owner must check the widget's data-key.",
  tooLong: (n, max) => `Your question is ${n} characters; the limit is ${max}. Please shorten it.`,
  rate: "Too many questions in a short time.",
  rateAgain: "You can ask again in",
  rateDone: "You can ask again now.",
  notReady: "The study assistant is not ready yet: its study index is not loaded. Try again in a minute.",
  upstream: "The answering model did not respond. Try again in a moment.",
  failed: (status) => `The service could not answer (HTTP ${status}). Try again.`,
  cut: "The connection was lost before the answer finished.",
  stopped: "Stopped.",
  cached: "cached",
  cachedLong: "Answer from the cache",
  semantic: "cached (similar question)",
  semanticLong: "Answer reused from a similar earlier question",
  degraded: "simplified answer",
  degradedLong: "The model was unavailable, so this answer is built from the passages directly",
};
