"""Results the local stack would otherwise compute again at every start, kept on disk as JSON.

A stack's start once took about 3 s, a third of it translating template.yaml with SAM's translator
and parsing Adobe's 1 MB YAML schema, the same each time. Each result is kept under a name and
the SHA-256 of everything it is made from (the inputs, and the version of the library that made
it), so a changed input or library misses the cache and is made afresh. The folder is
`$AMAZON_CHANNEL_CACHE` or `~/.cache/amazon-channel`; a folder that cannot be written only costs the
time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

_memory: dict[str, Any] = {}
_lock = threading.Lock()


def folder() -> Path:
    return Path(os.environ.get("AMAZON_CHANNEL_CACHE") or Path.home() / ".cache" / "amazon-channel")


def cached_json(name: str, made_from: Any, make: Callable[[], Any], in_memory: bool = True) -> Any:
    """`make()`'s JSON result for `made_from` (JSON-able), from memory, else disk, else made and kept.
    In memory, the caller gets the same object each time: it must not change it (or pass
    `in_memory=False`, for a fresh copy from disk each time)."""
    digest = hashlib.sha256(json.dumps(made_from, sort_keys=True, default=str).encode()).hexdigest()
    key = f"{name}-{digest[:32]}"
    with _lock:
        if key in _memory:
            return _memory[key]
    path = folder() / f"{key}.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        value = json.loads(json.dumps(make(), default=str))  # what a later read gives, this time too
        _write(path, value)
    if in_memory:
        with _lock:
            _memory[key] = value
    return value


def _write(path: Path, value: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as f:
            json.dump(value, f)
        os.replace(f.name, path)  # atomic: a concurrent reader sees the old file or the whole new one
    except OSError:
        pass
