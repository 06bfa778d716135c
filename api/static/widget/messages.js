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
  // The study coach (Quiz and Progress views).
  coachDown: "The study assistant service is unavailable right now. Try again in a moment.",
  coachMissing: "There are no quiz questions for this choice",
  coachConflict: "This question was already answered. Start a new quiz.",
  coachRejected: "The answer was not accepted",
  coachUnavailable: "The study coach is not available on this service right now",
  quizIntro:
    "Test yourself on the study notes: one question at a time, each graded with the passage that answers it. Questions you got wrong come back first in later quizzes.",
  quizEmpty: "No more questions are waiting for this choice right now: every one you have seen is scheduled for later.",
  chooseOption: "Choose one of the options first.",
  typeAnswer: "Type an answer first.",
  progressIntro: "Your progress along the roadmap, phase by phase.",
  // The passage side panel and answer feedback (passages.js, feedback.js).
  passageDown: "The study assistant service is unavailable right now: the passage could not be loaded.",
  passageGone: "This passage is no longer in the study index (it was rebuilt). Ask again for current sources.",
  feedbackAsk: "Was this answer helpful?",
  feedbackThanks: "Thanks, your rating was saved.",
  feedbackCommentSaved: "Thanks, your comment was saved.",
  feedbackGone: "This answer can no longer be rated.",
  feedbackDown: "The rating could not be sent: the service is unavailable. Try again in a moment.",
};
