from __future__ import annotations

import pytest
import typer

from radnec import __version__, cli
from radnec.errors import GeometryError


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_radnec_error_is_one_line_and_exit_2(monkeypatch, capsys):
    def build() -> typer.Typer:
        app = typer.Typer(pretty_exceptions_enable=False)

        @app.command()
        def boom() -> None:
            raise GeometryError("slices are not uniformly spaced", path="/x/CT.1.dcm")

        @app.command()
        def other() -> None:
            pass

        return app

    monkeypatch.setattr(cli, "build_app", build)
    assert cli.main(["boom"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "radnec: error: /x/CT.1.dcm: slices are not uniformly spaced"
    assert "Traceback" not in err


def test_usage_error_exit_2(capsys):
    assert cli.main(["no-such-command"]) == 2


def test_every_command_of_the_table_is_registered():
    app = cli.build_app()
    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert names == {name for name, _ in cli.COMMANDS}


def test_a_missing_command_module_is_an_error_not_a_silent_drop(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, ("ghost", "radnec.commands.no_such_module")))
    with pytest.raises(ModuleNotFoundError, match="radnec.commands.no_such_module"):
        cli.build_app()
