"""Fixtures of the networking tests: a 2 mm phantom case (≈ 370 instances) and DICOM helpers."""

from __future__ import annotations

import hashlib
import socket
import struct
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def phantom_dicom() -> tuple[Path, dict]:
    """(case folder, truth) of the export tests' 2 mm marginal phantom: ≈ 360 DICOM instances."""
    from tests.export.phantoms import phantom

    return phantom("marginal")


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def body_sha256(data: bytes) -> str:
    """SHA-256 of a DICOM Part 10 file's dataset (the bytes after the file meta group), so files
    whose meta headers were written by different implementations compare by content."""
    assert data[128:132] == b"DICM"
    # (0002,0000) UL group length, explicit VR little endian: tag 4 + VR 2 + length 2 + value 4
    group_length = struct.unpack("<I", data[140:144])[0]
    return hashlib.sha256(data[144 + group_length:]).hexdigest()


def sop_instance_uid(path: Path) -> str:
    import pydicom

    return str(pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPInstanceUID"]).SOPInstanceUID)
