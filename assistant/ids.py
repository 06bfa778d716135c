"""Unguessable 128-bit ids (request, conversation) without a system call per id.

``uuid.uuid4()`` reads ``os.urandom``, which drops the GIL for a ``getrandom`` call:
on the event loop, with worker threads busy, getting it back can take a whole switch
interval (5 ms), and a cached answer paid that twice (profiled with py-spy). Here the
kernel is asked once per process for a 256-bit secret, and each id is
``sha256(secret || pid || counter)`` cut to 128 bits: unpredictable without the
secret, unique per process (the counter) and across forked workers (the pid, and a
fresh secret after ``fork``).
"""

from __future__ import annotations

import hashlib
import itertools
import os

_secret = b""
_counter = itertools.count()


def _reseed() -> None:
    global _secret, _counter
    _secret = os.urandom(32) + os.getpid().to_bytes(8, "little")
    _counter = itertools.count()


_reseed()
os.register_at_fork(after_in_child=_reseed)


def new_id() -> str:
    """32 lowercase hex characters, like ``uuid.uuid4().hex``."""
    n = next(_counter)  # itertools.count is atomic under the GIL
    return hashlib.sha256(_secret + n.to_bytes(16, "little")).hexdigest()[:32]
