"""The ``radnec`` command line.

Each sub-command lives in ``radnec.commands.<name>`` as a module that imports only Typer and
the standard library at import time; the heavy libraries (SimpleITK, pydicom, matplotlib) are
imported inside the command body, so ``radnec --help`` is fast. Every command is also
callable from Python through the module it wraps.

Any :class:`radnec.errors.RadnecError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence

import typer

from radnec import __version__

#: (command name, module) in the order ``--help`` lists them. A module provides ``command``
#: (the Typer callback) and optionally ``HELP`` (one paragraph).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("demo", "radnec.commands.demo"),
    ("analyze", "radnec.commands.analyze"),
    ("inspect", "radnec.commands.inspect"),
    ("phantom", "radnec.commands.phantom"),
    ("fuse", "radnec.commands.fuse"),
    ("dvh", "radnec.commands.dvh"),
    ("measure", "radnec.commands.measure"),
    ("assess", "radnec.commands.assess"),
    ("perfusion", "radnec.commands.perfusion"),
    ("suv", "radnec.commands.suv"),
    ("mrs", "radnec.commands.mrs"),
    ("export", "radnec.commands.export"),
    ("listen", "radnec.commands.listen"),
    ("send", "radnec.commands.send"),
    ("cohort", "radnec.commands.cohort"),
    ("serve", "radnec.commands.serve"),
    ("store", "radnec.commands.store"),
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"radnec {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    """Build the Typer application with every sub-command of :data:`COMMANDS`.

    Raises
    ------
    ModuleNotFoundError
        When a command's module is missing (a broken installation); never skipped silently.
    """
    app = typer.Typer(
        name="radnec",
        help=(
            "radnec: radiation necrosis or tumour progression after SRS? Decision support for "
            "clinicians — not a diagnosis, not a medical device. Coordinates are DICOM LPS in mm, "
            "dose in Gy, time in days since SRS."
        ),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(
            False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
        ),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details to stderr."),
    ) -> None:
        logging.basicConfig(
            level=logging.INFO if verbose else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )

    for name, module_name in COMMANDS:
        # every command of the table must be there: a missing module is a broken installation, not an
        # optional feature (it used to be dropped silently and the command vanished from --help)
        module = importlib.import_module(module_name)
        if isinstance(module.command, typer.Typer):  # a command group (radnec store import|list)
            app.add_typer(module.command, name=name, help=getattr(module, "HELP", None))
        else:
            app.command(name, help=getattr(module, "HELP", None))(module.command)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI.

    Called as the console script (``argv`` None) it exits the process; called from Python
    with a list of arguments it returns the exit code (0 ok, 1 aborted, 2 error or usage).
    """
    from radnec.errors import RadnecError

    app = build_app()
    args = list(argv) if argv is not None else None
    try:
        app(args=args, prog_name="radnec")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except RadnecError as exc:
        typer.echo(f"radnec: error: {exc}", err=True)
        code = 2
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":  # pragma: no cover
    main()
