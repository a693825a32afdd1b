"""``radnec serve``: the tumour-board workspace in the browser (FastAPI app, viewer, case pages).

The web layer holds no science: routes validate input, call :mod:`radnec.store` and :mod:`radnec.pipeline`,
and serialise. :func:`radnec.web.app.create_app` builds the application; see ``docs/serve.md``.
"""
