"""Threads per case: 2 by default, limited inside a block (cohort workers), refused when not a count."""

from __future__ import annotations

import pytest

from radnec.threads import DEFAULT_CASE_THREADS, case_threads, limit_case_threads


def test_default_and_nested_limits():
    assert case_threads() == DEFAULT_CASE_THREADS == 2
    with limit_case_threads(1):
        assert case_threads() == 1
        with limit_case_threads(3):
            assert case_threads() == 3
        assert case_threads() == 1
    assert case_threads() == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_not_a_thread_count(bad):
    with pytest.raises(ValueError, match="threads per case"):
        with limit_case_threads(bad):
            pass


def test_cohort_refuses_a_bad_thread_count(tmp_path):
    from radnec.cohort.runner import run_cohort

    with pytest.raises(ValueError, match="threads per case"):
        run_cohort([], tmp_path / "out", threads_per_case=0)


def test_cohort_cli_refuses_zero_threads(tmp_path, capsys):
    from radnec import cli

    assert cli.main(["cohort", str(tmp_path), "--out", str(tmp_path / "out"), "--threads-per-case", "0"]) == 2
    assert "threads-per-case" in capsys.readouterr().err
