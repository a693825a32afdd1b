"""Stage timing and a rich progress display on stderr.

``Stages`` records the wall time of each pipeline stage (seconds) and, unless quiet, shows the
running stage with a spinner and prints one line per finished stage on stderr, so stdout stays
free for JSON. :func:`listening` lets a caller (the web server's job runner) hear each stage's name as it
starts, in the current thread or task only (a context variable), without changing the pipeline's signatures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

#: The stage listener of the current context (thread/task), or None.
_LISTENER: ContextVar[Callable[[str], None] | None] = ContextVar("radnec_stage_listener", default=None)


@contextmanager
def listening(callback: Callable[[str], None]) -> Iterator[None]:
    """Call ``callback(stage_name)`` when a stage starts, for the duration of the block (this context only)."""
    token = _LISTENER.set(callback)
    try:
        yield
    finally:
        _LISTENER.reset(token)


class Stages:
    """Time named stages; show them on stderr unless ``quiet``.

    Examples
    --------
    >>> stages = Stages(quiet=True)
    >>> with stages("ingest"):
    ...     pass
    >>> list(stages.timings_s)
    ['ingest']
    """

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.timings_s: dict[str, float] = {}
        self._console: Any = None
        if not quiet:
            from rich.console import Console

            self._console = Console(stderr=True)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        listener = _LISTENER.get()
        if listener is not None:
            listener(name)
        start = time.perf_counter()
        status = None
        if self._console is not None:
            status = self._console.status(f"[bold]{name}[/bold] …")
            status.start()
        ok = False
        try:
            yield
            ok = True
        finally:
            elapsed = time.perf_counter() - start
            self.timings_s[name] = self.timings_s.get(name, 0.0) + elapsed
            if status is not None:
                status.stop()
                mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
                self._console.print(f"{mark} {name} [dim]{elapsed:.1f} s[/dim]")

    def note(self, message: str) -> None:
        """Print a side note (a skipped input, a warning) unless quiet."""
        if self._console is not None:
            self._console.print(f"[yellow]•[/yellow] {message}")
