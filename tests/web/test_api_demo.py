"""The first start: an empty store queues the demo case; a restart that interrupted it finishes it."""

from __future__ import annotations

from dataclasses import replace


def test_an_empty_store_queues_the_demo_and_a_restart_finishes_it(tmp_path, web_settings):
    from radnec.store.models import Job
    from radnec.web.app import create_app
    from radnec.web.settings import Settings

    empty = Settings(data_dir=tmp_path / "empty", token="x" * 20, demo=True, workers=0)
    app = create_app(empty)
    with app.state.store.session() as s:
        assert [(j.kind, j.state) for j in s.query(Job)] == [("demo", "queued")]
    app.state.store.close()
    assert create_app(replace(empty, demo=False)).state.recovery.jobs_failed == 1  # the restart fails it, queues nothing

    # a store whose demo job was interrupted after its import (case 1 has no report yet): the restart re-analyses it
    settings = replace(web_settings, demo=True, workers=0)
    app = create_app(replace(settings, demo=False))
    store = app.state.store
    with store.session() as s:
        s.add(Job(kind="demo", case_id=1, state="running", params={}, progress=[]))
    store.paths_for(1).report_html.unlink()
    store.close()
    app = create_app(settings)
    with app.state.store.session() as s:
        jobs = [(j.kind, j.state, j.case_id) for j in s.query(Job).order_by(Job.id)]
    assert jobs[-2:] == [("demo", "failed", 1), ("analyze", "queued", 1)]
    app.state.store.close()
