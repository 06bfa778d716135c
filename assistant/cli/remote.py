"""`search` and `ask` through a running `assistant serve` (``ASSISTANT_SERVER_URL``).

Off unless the setting names a server: a server on the default port may serve another
index or other settings than the command line was given, and a silent switch of where
answers come from would be a surprise. When the server does not answer (refused, timed
out), the command logs one warning and loads the model itself; when it answers with an
error, that error is the command's error, as if it had happened in-process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError, AuthError, BadInputError, IndexNotBuiltError

if TYPE_CHECKING:
    from assistant.settings import Settings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 0.5  # a loopback server accepts in microseconds; a dead one refuses at once


@dataclass(frozen=True, slots=True)
class RemoteAssistant:
    """The HTTP API of a running server, or nothing (``base_url`` None: always local)."""

    base_url: str | None
    api_key: str | None = None
    read_timeout_s: float = 60.0

    @classmethod
    def from_settings(cls, s: Settings) -> RemoteAssistant:
        # The first plain accepted key of the shared settings (the CLI and the server read one
        # .env); a `sha256:` entry stores only the hash, which no client can present.
        key = next((k for k in s.api_keys if not k.startswith("sha256:")), None)
        url = s.server_url.rstrip("/") if s.server_url else None
        return cls(url, key, read_timeout_s=s.llm_timeout_s + 30.0)

    def search(
        self, query: str, k: int, phases: list[int] | None, sources: list[str] | None
    ) -> dict[str, Any] | None:
        """``{"results", "index_version"}`` from ``POST /v1/search``; None: search locally."""
        body = {"query": query, "k": k, "phases": phases, "sources": sources}
        return self._post("/v1/search", body)

    def ask(self, question: str, k: int, phases: list[int] | None) -> dict[str, Any] | None:
        """The answer of ``POST /v1/ask`` as JSON; None: answer locally."""
        return self._post("/v1/ask", {"question": question, "k": k, "phases": phases})

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        if self.base_url is None:
            return None
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = httpx.Timeout(self.read_timeout_s, connect=CONNECT_TIMEOUT_S)
        url = self.base_url + path
        try:
            response = httpx.post(url, json=body, headers=headers, timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            logger.warning("server %s did not answer (%s); working locally", self.base_url, exc)
            return None
        except httpx.HTTPError as exc:
            raise AssistantError(f"server {self.base_url} failed: {exc}") from exc
        if response.status_code == 200:
            return response.json()  # type: ignore[no-any-return]
        raise error_for(response.status_code, _message(response), url)


def _message(response: Any) -> str:
    try:
        payload = response.json()
    except ValueError:
        return str(response.text[:200])
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and "message" in error:
        return str(error["message"])
    if isinstance(payload, dict) and "detail" in payload:
        return str(payload["detail"])
    return str(payload)[:200]


def error_for(status: int, message: str, url: str) -> AssistantError:
    """The error class the service would have raised for this status."""
    if status in (400, 413, 422):
        return BadInputError(message)
    if status in (401, 403):
        return AuthError(f"{message} (from {url}; the CLI sends the first ASSISTANT_API_KEYS)")
    if status == 503 and "index" in message:
        return IndexNotBuiltError(message)
    return AssistantError(f"{url} answered {status}: {message}")
