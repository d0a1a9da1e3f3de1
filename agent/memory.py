"""Giving memory back once work ends, so a long-running server returns to its baseline.

Native libraries (onnxruntime, CTranslate2) free their buffers into glibc's heap, which keeps the
pages resident; a server that opens and closes sessions all day then only grows. After the last
open session ends, :func:`give_back` collects Python's cycles and asks glibc to return its free
pages to the system (``malloc_trim``; a no-op where the C library has none).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
try:
    _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
except (OSError, AttributeError):  # not glibc
    _trim = None


def give_back() -> None:
    """Free the cycles sessions left behind and return free heap pages to the system."""
    gc.collect()
    if _trim is not None:
        _trim(0)


class OpenCount:
    """Sessions open at once; :func:`give_back` when the last one ends."""

    def __init__(self) -> None:
        self.open = 0

    def opened(self) -> None:
        self.open += 1

    def closed(self) -> None:
        self.open -= 1
        if self.open == 0:
            give_back()
