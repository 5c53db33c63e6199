"""Helpers shared by the benchmark scripts: peak RSS and a timer. Benchmarks print figures; they assert nothing."""

from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


@contextmanager
def timer():
    """`with timer() as t: ...` then `t()` is the elapsed wall time in seconds."""
    t0 = time.perf_counter()
    box = [None]
    yield lambda: box[0] if box[0] is not None else time.perf_counter() - t0
    box[0] = time.perf_counter() - t0
