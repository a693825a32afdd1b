"""How many threads one case's analysis may use.

elastix's ITK threads and the segmentation pool follow :func:`case_threads`: 2 by default (the
2-core machine radnec is measured on), 1 inside a cohort worker (``radnec cohort --threads-per-case``,
so that N Dask workers use N cores). The deformable registration's result depends on the thread count
(elastix's random sampler; differences in the last digits, e.g. coverage within 0.2 points on the
phantom), so the count is part of the registration's saved key and of its recorded parameters.

>>> from radnec.threads import case_threads, limit_case_threads
>>> case_threads()
2
>>> with limit_case_threads(1):
...     case_threads()
1
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: Threads per case when nothing limits them.
DEFAULT_CASE_THREADS = 2

_CASE_THREADS: ContextVar[int | None] = ContextVar("radnec_case_threads", default=None)


def case_threads() -> int:
    """The number of threads the current case's analysis may use (≥ 1)."""
    n = _CASE_THREADS.get()
    return DEFAULT_CASE_THREADS if n is None else n


def check_threads(n: int) -> int:
    """``n`` when it is a thread count (an integer ≥ 1), else a ValueError naming it."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads per case must be an integer >= 1, got {n!r}")
    return n


@contextmanager
def limit_case_threads(n: int) -> Iterator[int]:
    """Within the block, a case's analysis uses ``n`` threads (``n`` ≥ 1)."""
    check_threads(n)
    token = _CASE_THREADS.set(n)
    try:
        yield n
    finally:
        _CASE_THREADS.reset(token)


__all__ = ["DEFAULT_CASE_THREADS", "case_threads", "check_threads", "limit_case_threads"]
