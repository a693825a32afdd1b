"""Request → the app's store, job runner and settings (for every router, the viewer's included)."""

from __future__ import annotations

from fastapi import Request

from radnec.store.store import Store
from radnec.web.jobs import JobRunner
from radnec.web.settings import Settings


def store_of(request: Request) -> Store:
    """The store of the app serving ``request``."""
    return request.app.state.store  # type: ignore[no-any-return]


def runner_of(request: Request) -> JobRunner:
    """The job runner of the app serving ``request``."""
    return request.app.state.runner  # type: ignore[no-any-return]


def settings_of(request: Request) -> Settings:
    """The settings of the app serving ``request``."""
    return request.app.state.settings  # type: ignore[no-any-return]


__all__ = ["runner_of", "settings_of", "store_of"]
