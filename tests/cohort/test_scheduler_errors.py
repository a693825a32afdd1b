"""A scheduler without workers is an error with the fix, not a run that hangs."""

from __future__ import annotations

import pytest

from radnec.cohort import runner
from radnec.errors import InputError


def test_scheduler_without_workers(monkeypatch, tmp_path):
    from distributed import LocalCluster

    monkeypatch.setattr(runner, "WAIT_FOR_WORKERS_S", 1.0)
    with LocalCluster(n_workers=0, dashboard_address=None) as cluster:
        with pytest.raises(InputError, match="has no worker after 1 s"):
            runner._open_client(cluster.scheduler_address, 1, None)
