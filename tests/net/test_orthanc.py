"""C-STORE into a real PACS: Orthanc (Debian's package) started on loopback by the test.

Orthanc 1.10 has no bind-address option, so the test's configuration keeps it private instead:
random ports, HTTP refused to any client but localhost (``RemoteAccessAllowed: false``), DICOM
accepted only from the AE ``RADNEC`` at 127.0.0.1 (``DicomAlwaysAllowStore: false``,
``DicomCheckModalityHost: true``), and its storage in the test's temporary folder. Skipped with
the reason when Orthanc is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from radnec.net.send import Destination, SendError, dicom_files, send
from tests.net.conftest import body_sha256, free_port, sop_instance_uid


#: Debian's orthanc-dicomweb plugin (STOW-RS test; .ci/run installs it).
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"


@pytest.fixture()
def orthanc(tmp_path):
    exe = shutil.which("Orthanc") or next((p for p in ("/usr/sbin/Orthanc",) if Path(p).is_file()), None)
    if exe is None:
        pytest.skip("Orthanc not installed (Debian package orthanc; .ci/run installs it)")
    dicom_port, http_port = free_port(), free_port()
    config = {
        "Name": "radnec-test", "StorageDirectory": str(tmp_path / "storage"), "IndexDirectory": str(tmp_path / "index"),
        "Plugins": [DICOMWEB_PLUGIN] if Path(DICOMWEB_PLUGIN).is_file() else [],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}, "HttpServerEnabled": True, "HttpPort": http_port, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "DicomServerEnabled": True, "DicomAet": "ORTHANC", "DicomPort": dicom_port,
        "DicomCheckCalledAet": True, "DicomAlwaysAllowEcho": False, "DicomAlwaysAllowStore": False,
        "DicomModalities": {"radnec": ["RADNEC", "127.0.0.1", 104]}, "DicomCheckModalityHost": True,
        "SaveJobs": False, "StorageCompression": False,
    }
    (tmp_path / "orthanc.json").write_text(json.dumps(config))
    log = (tmp_path / "orthanc.log").open("w")
    proc = subprocess.Popen([exe, str(tmp_path / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/system", timeout=2) as r:
                json.load(r)
            break
        except (urllib.error.URLError, OSError, ValueError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"Orthanc did not start: {(tmp_path / 'orthanc.log').read_text()[-500:]}")
            time.sleep(0.2)
    while True:  # the DICOM server may open after the HTTP one
        try:
            socket.create_connection(("127.0.0.1", dicom_port), timeout=2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"Orthanc's DICOM port did not open: {(tmp_path / 'orthanc.log').read_text()[-500:]}")
            time.sleep(0.2)
    yield Destination("ORTHANC", "127.0.0.1", dicom_port), base
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def _lookup(base: str, uid: str) -> str:
    req = urllib.request.Request(f"{base}/tools/lookup", data=uid.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        found = [x for x in json.load(r) if x["Type"] == "Instance"]
    assert len(found) == 1, uid
    return found[0]["ID"]


def test_exports_and_images_stored_in_orthanc_come_back_identical(orthanc, phantom_dicom, tmp_path):
    from radnec.export.bundle import export_case
    from tests.export.phantom_inputs import phantom_export_inputs

    to, base = orthanc
    case, truth = phantom_dicom
    analysis, planning_files, followups = phantom_export_inputs(case, truth)
    exports = export_case(analysis=analysis, planning_files=planning_files, followups=followups, to=tmp_path / "out",
                          deidentify=False)
    # the exports and the planning T1c they reference (Orthanc indexes each instance in SQLite: the
    # whole case would take ~30 s)
    files = dicom_files([case / truth["timepoints"][0]["series"]["T1c"]["folder"], tmp_path / "out"])
    result = send(files, to=to)
    assert result.failed == [] and len(result.sent) == len(files)
    stats = json.loads(_get(f"{base}/statistics"))
    assert stats["CountInstances"] == len(files)
    for path in exports:  # RTSTRUCT, SEG, SR: same dataset bytes back over REST
        ident = _lookup(base, sop_instance_uid(path))
        assert body_sha256(_get(f"{base}/instances/{ident}/file")) == body_sha256(path.read_bytes()), path.name
        tags = json.loads(_get(f"{base}/instances/{ident}/simplified-tags"))
        assert tags["SOPInstanceUID"] == sop_instance_uid(path)


def test_orthanc_refuses_an_unknown_calling_ae(orthanc, phantom_dicom):
    to, base = orthanc
    case, _ = phantom_dicom
    one = sorted((case / "dicom" / "00_planning" / "T1c").glob("*.dcm"))[:1]
    with pytest.raises(SendError, match="rejected the association"):
        send(one, to=to, calling_ae="STRANGER")
    assert json.loads(_get(f"{base}/statistics"))["CountInstances"] == 0


def test_stow_rs_into_orthanc(orthanc, phantom_dicom, tmp_path, capsys):
    """`radnec send --stow`: DICOMweb STOW-RS of the exports into Orthanc's DICOMweb plugin."""
    pytest.importorskip("dicomweb_client", reason="dicomweb-client not installed (pip install 'radnec[dicomweb]')")
    if not Path(DICOMWEB_PLUGIN).is_file():
        pytest.skip("Orthanc's DICOMweb plugin not installed (Debian package orthanc-dicomweb; .ci/run installs it)")
    from radnec.cli import main
    from radnec.export.bundle import export_case
    from tests.export.phantom_inputs import phantom_export_inputs

    _, base = orthanc
    case, truth = phantom_dicom
    analysis, planning_files, followups = phantom_export_inputs(case, truth)
    exports = export_case(analysis=analysis, planning_files=planning_files, followups=followups, to=tmp_path / "out")
    junk = tmp_path / "out" / "notes.txt"
    junk.write_text("not DICOM")
    code = main(["send", str(tmp_path / "out"), "--stow", f"{base}/dicom-web"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and any(line.startswith(f"radnec: not stored: {junk}: not a DICOM file") for line in err), err
    assert json.loads(_get(f"{base}/statistics"))["CountInstances"] == len(exports)
    for path in exports:
        ident = _lookup(base, sop_instance_uid(path))
        assert json.loads(_get(f"{base}/instances/{ident}/simplified-tags"))["SOPInstanceUID"] == sop_instance_uid(path)
        assert body_sha256(_get(f"{base}/instances/{ident}/file")) == body_sha256(path.read_bytes()), path.name
