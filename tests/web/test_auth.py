"""The token guard: every route refuses a request without the token (401), the login cookie works."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import TOKEN


def _concrete(path: str) -> str:
    """A route path with its parameters filled in (ids 1, names that exist)."""
    path = path.replace("{name}", "report.html").replace("{path}", "x").replace("{file_path}", "x")
    return re.sub(r"\{[^}]+\}", "1", path)


def _flat_routes(routes):
    """Every route, with routers included by FastAPI ≥ 0.16x (lazy ``_IncludedRouter``) expanded."""
    for route in routes:
        if hasattr(route, "effective_route_contexts"):
            yield from route.effective_route_contexts()
        else:
            yield route


def test_every_route_without_the_token_is_401(anon_client, web_app):
    from starlette.routing import Mount

    seen = 0
    for route in _flat_routes(web_app.routes):
        if isinstance(route, Mount):
            paths, methods = [route.path + "/x"], {"GET"}
        else:
            paths, methods = [_concrete(route.path)], set(getattr(route, "methods", None) or {"GET"}) - {"HEAD"}
        for path in paths:
            for method in methods:
                r = anon_client.request(method, path)
                assert r.status_code == 401, f"{method} {path} answered {r.status_code} without the token"
                seen += 1
        # a wrong token and a wrong cookie are refused too
        r = anon_client.get(paths[0], headers={"Authorization": "Bearer wrong-token-xxxxxxxx"})
        assert r.status_code == 401
    assert seen >= 15, f"only {seen} routes checked"
    for path in ("/", "/static/x.js", "/no/such/path", "/api/cases/1/files/../../radnec.db", "/openapi.json", "/docs"):
        assert anon_client.get(path).status_code == 401, path


def test_login_sets_a_strict_httponly_cookie_and_redirects_locally(anon_client):
    r = anon_client.get(f"/login?token={TOKEN}&next=/api/cases", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/api/cases"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert anon_client.get("/api/cases").status_code == 200  # the cookie is sent from now on
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil"):
        r = anon_client.get("/login", params={"token": TOKEN, "next": evil}, follow_redirects=False)
        assert r.headers["location"] == "/", evil
    anon_client.get("/logout", follow_redirects=False)
    anon_client.cookies.clear()
    assert anon_client.get("/api/cases").status_code == 401


@pytest.mark.parametrize("token", ["", "test-token", TOKEN + "x", TOKEN.upper()])
def test_login_with_a_wrong_token_is_401(anon_client, token):
    r = anon_client.get("/login", params={"token": token}, follow_redirects=False)
    assert r.status_code == 401 and "set-cookie" not in r.headers


def test_upload_over_the_limit_is_413(web_settings):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from radnec.web.app import create_app

    app = create_app(replace(web_settings, max_upload_mb=0.01, workers=0))
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        r = c.post("/api/cases/import", files={"file": ("big.zip", b"\0" * 20_000, "application/zip")})
        assert r.status_code == 413
        assert c.get("/api/jobs").json() == [] or all(j["kind"] != "import" for j in c.get("/api/jobs").json())
