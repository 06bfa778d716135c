"""Fetch URL sources safely: http(s) only, public addresses only, bounded, cached on disk.

Every hop of a redirect chain is resolved and checked by ``AddressPolicy`` before we
connect, and the connection goes to the address we checked (the hostname travels in the
Host header and TLS SNI), so a DNS answer that changes between check and connect
(rebinding) cannot steer us to a private address.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import AssistantError, ConfigError
from indexing.url_cache import CacheEntry, UrlCache
from indexing.url_policy import AddressPolicy

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

USER_AGENT = "study-assistant-indexer/0.1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(slots=True)
class FetchedPage:
    """A fetched (or cached) response body and where it finally came from."""

    url: str  # as requested
    final_url: str  # after redirects
    content_type: str | None
    body: bytes
    from_cache: bool  # True when served from the disk cache (304 or offline)
    status: int  # 2xx of a download, 304 for a revalidated cache hit, the stored status offline


class FetchError(AssistantError):
    """A URL that could not be fetched; the build reports ``reason`` and goes on."""

    def __init__(self, reason: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}" if url else reason)
        self.reason = reason
        self.url = url
        self.status = status


class _Unreachable(Exception):
    """A network-side failure (DNS, connect, timeout, 5xx): the cache may stand in."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class UrlFetcher:
    """Fetches http(s) URLs with an SSRF guard, size and time limits, and a revalidating cache."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        allow_private: bool = False,
        allowed_networks: Sequence[str] = (),
        timeout_s: float = 15.0,
        max_bytes: int = 10_000_000,
        max_redirects: int = 5,
        transport: httpx.BaseTransport | None = None,
        refresh_s: float = 0.0,
        retry_s: float = 0.0,
    ) -> None:
        """``refresh_s``: a cached copy younger than this is used without the network (0:
        always revalidate). ``retry_s``: a URL the network failed, with no cached copy, is
        not tried again for this long (0: every time)."""
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0, got {timeout_s}")
        if max_bytes <= 0:
            raise ConfigError(f"max_bytes must be > 0, got {max_bytes}")
        if max_redirects < 0:
            raise ConfigError(f"max_redirects must be >= 0, got {max_redirects}")
        self.policy = AddressPolicy(allow_private=allow_private, allowed_networks=allowed_networks)
        self.cache = UrlCache(Path(cache_dir))
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.refresh_s = refresh_s
        self.retry_s = retry_s
        self._prefetched: dict[str, FetchedPage | FetchError] = {}
        self._transport = transport
        self._http: httpx.Client | None = None  # made on the first fetch: a corpus of
        # files alone never imports httpx nor builds a TLS context (a CLI build's start)
        self._http_lock = threading.Lock()  # prefetch's threads ask for it at once

    @property
    def _client(self) -> httpx.Client:
        with self._http_lock:
            return self._http or self._new_client()

    def _new_client(self) -> httpx.Client:
        """The client, made once, under ``_http_lock``."""
        import httpx

        # No keep-alive: the pool is keyed by the pinned IP alone, so a kept connection
        # could carry a request for another hostname over TLS verified for the first one.
        transport = self._transport or httpx.HTTPTransport(
            limits=httpx.Limits(max_keepalive_connections=0)
        )
        # trust_env=False: an environment proxy would connect on our behalf, past the checks.
        self._http = httpx.Client(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            timeout=self.timeout_s,
            headers={"User-Agent": USER_AGENT},
        )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        elif self._transport is not None:
            self._transport.close()

    def __enter__(self) -> UrlFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def prefetch(self, urls: Sequence[str], workers: int = 8) -> None:
        """Fetch ``urls`` at once, ``workers`` at a time; ``fetch`` then hands each result
        over. A build waits for its slowest URL instead of the sum of them all."""
        from concurrent.futures import ThreadPoolExecutor

        self._prefetched.clear()  # what an earlier build left unclaimed is stale now
        todo = list(dict.fromkeys(urls))
        if not todo:
            return

        def one(url: str) -> FetchedPage | FetchError:
            try:
                return self._fetch_now(url)
            except FetchError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo)))) as pool:
            self._prefetched.update(zip(todo, pool.map(one, todo), strict=True))

    def fetch(self, url: str) -> FetchedPage:
        """Download ``url`` (revalidating a cached copy); raise FetchError when it cannot."""
        done = self._prefetched.pop(url, None)
        if isinstance(done, FetchError):
            raise done
        return done if done is not None else self._fetch_now(url)

    def _fetch_now(self, url: str) -> FetchedPage:
        cached = self.cache.get(url)
        now = time.time()
        if cached is not None and now - cached[0].fetched_at < self.refresh_s:
            entry, body = cached  # fresh: the network is not asked
            return FetchedPage(url, entry.final_url, entry.content_type, body, True, entry.status)
        failed = self.cache.failure(url) if cached is None and self.retry_s > 0 else None
        if failed is not None and now - failed.at < self.retry_s:
            raise FetchError(
                f"{failed.reason} (at {time.strftime('%H:%M:%S', time.localtime(failed.at))}; "
                f"tried again after {self.retry_s:g} s, or now with --refresh-urls)",
                url=url,
            )
        try:
            page = self._fetch_live(url, cached)
        except _Unreachable as exc:
            if cached is None:
                self.cache.put_failure(url, exc.reason)
                raise FetchError(exc.reason, url=url, status=exc.status) from exc
            entry, body = cached
            logger.warning(
                "%s: %s; serving the cached copy from %s",
                url,
                exc.reason,
                time.ctime(entry.fetched_at),
            )
            return FetchedPage(url, entry.final_url, entry.content_type, body, True, entry.status)
        self.cache.clear_failure(url)
        return page

    def _fetch_live(self, url: str, cached: tuple[CacheEntry, bytes] | None) -> FetchedPage:
        deadline = time.monotonic() + self.timeout_s
        current = url
        for _hop in range(self.max_redirects + 1):
            target, addresses = self._checked(current, requested=url)
            headers: dict[str, str] = {}
            if cached is not None and cached[0].final_url == current:
                if cached[0].etag:
                    headers["If-None-Match"] = cached[0].etag
                if cached[0].last_modified:
                    headers["If-Modified-Since"] = cached[0].last_modified
            response = self._open(target, addresses, headers, deadline)
            try:
                status = response.status_code
                if status in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(
                            f"HTTP {status} redirect without a Location", url=url, status=status
                        )
                    current = str(target.join(location))
                    continue
                if status == 304 and cached is not None:
                    return self._revalidated(url, cached, response)
                if status >= 500:
                    raise _Unreachable(f"HTTP {status} from {current}", status=status)
                if not 200 <= status < 300:
                    raise FetchError(f"HTTP {status} from {current}", url=url, status=status)
                body = self._read_body(response, deadline, url)
            finally:
                response.close()
            content_type = response.headers.get("content-type")
            entry = UrlCache.new_entry(
                url,
                current,
                content_type,
                status,
                response.headers.get("etag"),
                response.headers.get("last-modified"),
                body,
            )
            self.cache.put(entry, body)
            return FetchedPage(url, current, content_type, body, False, status)
        raise FetchError(f"too many redirects (more than {self.max_redirects})", url=url)

    def _checked(self, current: str, *, requested: str) -> tuple[httpx.URL, list[str]]:
        """Parse ``current``, check its scheme and every address its host resolves to."""
        import httpx

        try:
            target = httpx.URL(current)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError(f"invalid URL {current!r}: {exc}", url=requested) from exc
        if target.scheme not in _DEFAULT_PORTS:
            raise FetchError(
                f"scheme not allowed: {target.scheme or '(none)'!r} in {current}", url=requested
            )
        host = target.raw_host.decode("ascii")
        if not host:
            raise FetchError(f"URL has no host: {current!r}", url=requested)
        port = target.port or _DEFAULT_PORTS[target.scheme]
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise _Unreachable(f"cannot resolve host {host!r}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            reason = self.policy.refusal(address)
            if reason is not None:
                raise FetchError(
                    f"refused {current}: {host} resolves to {address}, a {reason} address "
                    "(allow it with allow_private or allowed_networks)",
                    url=requested,
                )
        return target, addresses

    def _open(
        self, target: httpx.URL, addresses: list[str], headers: dict[str, str], deadline: float
    ) -> httpx.Response:
        """Send the request to a checked address of the host, trying each until one connects."""
        import httpx

        host = target.raw_host.decode("ascii")
        is_literal = host in addresses
        if not is_literal:
            default = _DEFAULT_PORTS[target.scheme]
            host_header = host if target.port in (None, default) else f"{host}:{target.port}"
            headers = {**headers, "Host": host_header}
        failure: Exception | None = None
        for address in [host] if is_literal else addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            request = self._client.build_request(
                "GET",
                target if is_literal else target.copy_with(host=address),
                headers=headers,
                timeout=remaining,
                extensions={} if is_literal else {"sni_hostname": host},
            )
            try:
                return self._client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise _Unreachable(f"timed out after {self.timeout_s:g}s") from exc
            except httpx.ConnectError as exc:
                failure = exc  # another address of the same host may answer
            except httpx.TransportError as exc:
                raise _Unreachable(f"network error: {str(exc) or type(exc).__name__}") from exc
        if failure is None:
            raise _Unreachable(f"timed out after {self.timeout_s:g}s")
        raise _Unreachable(f"cannot connect to {host}: {failure}") from failure

    def _read_body(self, response: httpx.Response, deadline: float, url: str) -> bytes:
        """Stream the body, stopping at ``max_bytes`` and at the deadline."""
        import httpx

        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(
                f"response too large: Content-Length {declared} > {self.max_bytes} bytes", url=url
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():  # decoded: a gzip bomb counts at full size
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchError(
                        f"response too large: more than {self.max_bytes} bytes", url=url
                    )
                if time.monotonic() > deadline:
                    raise _Unreachable(f"timed out after {self.timeout_s:g}s")
                chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise _Unreachable(f"timed out after {self.timeout_s:g}s") from exc
        except httpx.DecodingError as exc:
            raise FetchError(f"undecodable response body: {exc}", url=url) from exc
        except httpx.TransportError as exc:
            raise _Unreachable(
                f"network error while reading: {str(exc) or type(exc).__name__}"
            ) from exc
        return b"".join(chunks)

    def _revalidated(
        self, url: str, cached: tuple[CacheEntry, bytes], response: httpx.Response
    ) -> FetchedPage:
        """A 304: the cached body is current; refresh its validators and timestamp."""
        entry, body = cached
        entry.etag = response.headers.get("etag") or entry.etag
        entry.last_modified = response.headers.get("last-modified") or entry.last_modified
        entry.fetched_at = time.time()
        self.cache.put(entry, None)
        return FetchedPage(url, entry.final_url, entry.content_type, body, True, 304)
