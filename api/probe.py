"""Bounded network checks for the probes, off the event loop and off the request workers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

PROBE_TIMEOUT_S = 1.0  # well inside a Kubernetes probe's usual 3 s timeout
# Its own two threads: the request worker pool may be full of calls waiting on the model.
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="probe")


async def probe(check: Callable[[], T], default: T, timeout_s: float = PROBE_TIMEOUT_S) -> T:
    """``check()`` run in the probe pool; ``default`` when it takes longer than ``timeout_s``."""
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(loop.run_in_executor(_POOL, check), timeout_s)
    except TimeoutError:
        return default
