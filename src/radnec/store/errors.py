"""Errors of the case store (all :class:`radnec.errors.RadnecError`; the web layer maps them to HTTP codes)."""

from __future__ import annotations

from radnec.errors import InputError, RadnecError


class StoreError(RadnecError):
    """The store cannot do what was asked (the message says why and what to do)."""


class NotFound(StoreError):
    """No such case, job or file in the store (HTTP 404)."""


class UnsafeArchive(InputError):
    """A zip or folder to import is refused: traversal names, links, size bombs (HTTP 400)."""


class TooLarge(InputError):
    """An upload or archive beyond the configured limit (HTTP 413)."""


__all__ = ["NotFound", "StoreError", "TooLarge", "UnsafeArchive"]
