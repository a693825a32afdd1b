"""Rich consoles for command modules (stderr for progress, stdout for tables).

JSON output lives in :mod:`radnec.jsonio`.
"""

from __future__ import annotations


def stderr_console():  # noqa: ANN201 - rich imported lazily
    """A rich console on stderr (progress, tables when stdout carries JSON)."""
    from rich.console import Console

    return Console(stderr=True)


def stdout_console():  # noqa: ANN201
    """A rich console on stdout (human-readable tables)."""
    from rich.console import Console

    return Console()
