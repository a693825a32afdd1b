"""Stage timing and a rich progress display on stderr.

``Stages`` records the wall time of each pipeline stage (seconds) and, unless quiet, shows the
running stage with a spinner and prints one line per finished stage on stderr, so stdout stays
free for JSON.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


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
