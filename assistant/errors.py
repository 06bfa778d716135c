"""The one exception tree of the study assistant, named for what the caller should do.

    AssistantError
    ├── BadInputError            the request or file is wrong: fix it and retry (HTTP 400/413/422)
    │   ├── indexing.loaders.SkippedSource  a corpus file that cannot be read (the build skips it)
    │   └── PayloadTooLargeError  a request or file over a size limit (HTTP 413)
    ├── AuthError                missing or wrong API key (HTTP 401/403)
    ├── RateLimitedError         too many requests: wait ``retry_after`` seconds (HTTP 429)
    ├── NotFoundError            no such thing (unknown quiz, passage, version) (HTTP 404)
    ├── ConflictError            the request clashes with the current state (quiz answered twice) (HTTP 409)
    ├── (the index)
    │   ├── IndexNotBuiltError   run ``assistant index build`` first (HTTP 503)
    │   ├── IndexCorruptError    the index on disk fails its checks: rebuild it (HTTP 503)
    │   └── BuildLockedError     another build holds the lock: wait for it
    ├── EvalFloorError           a new index scored below the recall floor; not published
    ├── ConfigError              a setting is wrong (unknown model path, bad URL) (HTTP 500)
    ├── StorageUnavailableError  the database did not answer a read: retry later (HTTP 503)
    ├── indexing.fetch.FetchError a URL source could not be fetched (the build reports it)
    └── UpstreamModelError       the LLM endpoint failed after retries (HTTP 502)
        └── UpstreamTimeoutError the LLM endpoint timed out or stalled (HTTP 504)

Third-party exceptions are translated where they enter our code (``raise ... from exc``).
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class of every error this package raises on purpose."""


class BadInputError(AssistantError):
    """The caller sent something invalid; the message names the bad value."""


class PayloadTooLargeError(BadInputError):
    """A request, question or file is over a configured size limit."""


class AuthError(AssistantError):
    """A missing or unknown API key."""

    def __init__(self, message: str, *, admin: bool = False) -> None:
        super().__init__(message)
        self.admin = admin


class RateLimitedError(AssistantError):
    """Too many requests for this key; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFoundError(AssistantError):
    """The named resource does not exist."""


class ConflictError(AssistantError):
    """The request clashes with the stored state, e.g. a quiz that was already answered."""


class IndexNotBuiltError(AssistantError):
    """No index has been published yet: run `assistant index build`."""


class IndexCorruptError(AssistantError):
    """The index on disk does not match its manifest, or the loaded model."""


class BuildLockedError(AssistantError):
    """Another `index build` holds the build lock."""


class EvalFloorError(AssistantError):
    """A freshly built index scored below the configured recall floor."""


class ConfigError(AssistantError):
    """A setting is invalid or points at something that does not exist."""


class StorageUnavailableError(AssistantError):
    """The database behind stored conversations did not answer; retry later."""


class UpstreamModelError(AssistantError):
    """The language model endpoint failed after bounded retries."""


class UpstreamTimeoutError(UpstreamModelError):
    """The language model endpoint timed out or its stream stalled."""
