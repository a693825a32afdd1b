"""Sub-commands of the ``radnec`` CLI, one module each (see :mod:`radnec.cli`).

A command module imports only Typer and the standard library at module level and exposes
``command`` (the Typer callback) and ``HELP``.
"""
