"""Parsing of user-given time bounds (`--since 7d`, `?since=2026-11-01`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assistant.errors import BadInputError


def as_utc(ts: datetime) -> datetime:
    """``ts`` in UTC; a naive one (SQLite hands them back) is taken as UTC, as stored."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def parse_since(value: str | None) -> datetime | None:
    """An ISO date/time (UTC if naive) or a number of days like ``7d``."""
    if not value:
        return None
    if value.endswith("d") and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(days=int(value[:-1]))
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadInputError(f"since must be an ISO date or like 7d, got {value!r}") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
