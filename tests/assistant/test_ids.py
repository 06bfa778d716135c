"""assistant.ids: request and conversation ids without a system call per id."""

from __future__ import annotations

import itertools
import os
import re

from assistant.ids import new_id


def test_ids_are_32_hex_and_unique() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    # No visible counter: consecutive ids share no more leading characters than chance.
    assert sum(a[:4] == b[:4] for a, b in itertools.pairwise(ids)) < 5


def test_a_forked_worker_draws_other_ids() -> None:
    parent = [new_id() for _ in range(100)]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first ids, to the parent
        try:
            os.write(write, " ".join(new_id() for _ in range(100)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent += [new_id() for _ in range(100)]  # the parent's next ones, after the fork
    assert len(child) == 100 and not set(child) & set(parent)
