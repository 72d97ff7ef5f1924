"""Side by side: the order sync's stores, each in a thread of the one invocation.

A store's sync waits on I/O (SP-API, DynamoDB, Step Functions), so threads let every store use the
whole run, with its own per-seller quotas, instead of waiting for the stores before it. Each task
runs in a copy of the caller's `contextvars` context, so what the caller set there (the local
stack's IAM principal, for one) holds in the task's thread too. On Lambda, X-Ray's context builds
each thread's segment from the invocation's trace header, so the calls stay traced.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

STORES_AT_ONCE = 32  # threads at most; stores beyond wait for a free one (each holds a few connections)


class ThreadFanOut:
    """`FanOut` on a thread pool: every task's result, in the tasks' order."""

    def __init__(self, max_workers: int = STORES_AT_ONCE):
        self.max_workers = max_workers

    def __call__(self, tasks: list[Callable[[], T]]) -> list[T]:
        if len(tasks) <= 1 or self.max_workers <= 1:
            return [task() for task in tasks]
        from concurrent.futures import ThreadPoolExecutor  # only a multi-store sync pays the import

        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(tasks)), thread_name_prefix="store") as pool:
            futures = [pool.submit(contextvars.copy_context().run, task) for task in tasks]
            return [f.result() for f in futures]
