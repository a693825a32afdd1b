"""Bad peers get one clear log line each, and the SCP keeps serving; the SCU names every refusal."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest

from radnec.cli import main
from radnec.net.listen import start
from radnec.net.send import Destination, SendError, echo, parse_destination, send


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "radnec.net.listen" and r.levelno >= logging.WARNING]


def _one_image(phantom_dicom) -> Path:
    case, _ = phantom_dicom
    return sorted((case / "dicom" / "00_planning" / "T1c").glob("*.dcm"))[0]


def _serves(listener, path: Path) -> bool:
    to = Destination("RADNEC", "127.0.0.1", listener.port)
    return echo(to=to) and not send([path], to=to).failed


@pytest.fixture()
def listener(tmp_path):
    running = start(store=tmp_path / "store", port=0, allowed_calling_aets=["RADNEC", "PACS"])
    yield running
    running.stop()


def test_wrong_called_ae_title(listener, phantom_dicom, caplog):
    caplog.set_level(logging.WARNING, logger="radnec.net.listen")
    with pytest.raises(SendError, match="rejected the association"):
        send([_one_image(phantom_dicom)], to=Destination("NOTRADNEC", "127.0.0.1", listener.port))
    lines = _warnings(caplog)
    assert len(lines) == 1 and lines[0].startswith("rejected association from 127.0.0.1:")
    assert lines[0].endswith("(calling AE 'RADNEC'): called AE title 'NOTRADNEC' is not 'RADNEC'")
    assert _serves(listener, _one_image(phantom_dicom))


def test_calling_ae_title_not_allowed(listener, phantom_dicom, caplog):
    caplog.set_level(logging.WARNING, logger="radnec.net.listen")
    with pytest.raises(SendError):
        send([_one_image(phantom_dicom)], to=Destination("RADNEC", "127.0.0.1", listener.port), calling_ae="INTRUDER")
    lines = _warnings(caplog)
    assert len(lines) == 1 and "rejected association" in lines[0] and "'INTRUDER'" in lines[0]
    assert "allowed list" in lines[0]
    assert _serves(listener, _one_image(phantom_dicom))


def test_a_peer_that_speaks_no_dicom(listener, phantom_dicom, caplog):
    caplog.set_level(logging.WARNING, logger="radnec.net.listen")
    with socket.create_connection(("127.0.0.1", listener.port)) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 8)
        s.settimeout(5)
        try:
            s.recv(1024)
        except OSError:
            pass
    deadline = time.monotonic() + 5
    while not _warnings(caplog) and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = _warnings(caplog)
    assert len(lines) == 1 and "not a DICOM peer" in lines[0]
    assert _serves(listener, _one_image(phantom_dicom))


def test_a_corrupt_dataset_is_refused_and_named(listener, phantom_dicom, tmp_path, caplog, capsys):
    caplog.set_level(logging.WARNING, logger="radnec.net.listen")
    good = _one_image(phantom_dicom)
    raw = good.read_bytes()
    bad = tmp_path / "truncated.dcm"
    bad.write_bytes(raw[: len(raw) - 2000])  # Pixel Data cut short
    notdicom = tmp_path / "notes.txt"
    notdicom.write_text("not DICOM")
    code = main(["send", str(bad), str(notdicom), "--to", f"RADNEC@127.0.0.1:{listener.port}"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert any(line.startswith(f"radnec: not stored: {bad}: refused by RADNEC@127.0.0.1:{listener.port}: status 0xC210")
               for line in err), err
    assert any(line.startswith(f"radnec: not stored: {notdicom}: not a DICOM file") for line in err), err
    assert err[-1].startswith("radnec: error: 2 of 2 files were not stored")
    lines = _warnings(caplog)
    assert len(lines) == 1 and "cannot decode the dataset" in lines[0]
    assert listener.stats.refused == 1 and listener.stats.stored == 0
    assert _serves(listener, good)


def test_destination_syntax():
    assert parse_destination("PACS@10.1.2.3:104") == Destination("PACS", "10.1.2.3", 104)
    for bad in ("PACS@host", "host:104", "WAYTOOLONGAETITLE17@h:104", "A@h:0"):
        with pytest.raises(Exception, match="AET@host:port"):
            parse_destination(bad)
