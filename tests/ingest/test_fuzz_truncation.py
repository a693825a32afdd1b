"""Every demo file cut at many points, plus random bytes: scanning and inspecting never crash with a
traceback; each file is either used or listed with a reason."""

from __future__ import annotations

import numpy as np

from radnec.errors import RadnecError
from radnec.ingest.inventory import inspect_tree
from radnec.ingest.scan import scan


def test_truncated_everywhere_never_crashes(tmp_path, data_dir):
    rng = np.random.default_rng(2026)
    sources = sorted(p for p in (data_dir / "ingest-demo").rglob("*.dcm"))
    n_written = 0
    for src in sources:
        data = src.read_bytes()
        for cut in sorted(set(rng.integers(1, len(data), 4).tolist()) | {132, 200}):
            if cut >= len(data):
                continue
            (tmp_path / f"{src.stem}-{cut}.dcm").write_bytes(data[:cut])
            n_written += 1
    for k in range(5):
        (tmp_path / f"noise{k}.dcm").write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
        n_written += 1
    inv = scan(tmp_path)
    used = sum(s.n_instances for s in inv.all_series())
    assert used + len(inv.skipped) == n_written
    try:
        result = inspect_tree(tmp_path)
    except RadnecError:  # a clear error is acceptable; a crash is not
        return
    assert result.problems  # the broken files are reported
