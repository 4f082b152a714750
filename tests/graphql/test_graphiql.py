"""The GraphiQL page over HTTP: its assets come from the app (versioned, immutable, integrity-checked) and
its Content-Security-Policy allows nothing else. The browser test (test_graphiql_browser) runs it."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx

from app.graphql.graphiql import SCRIPTS, STYLES, GraphiQLAssets, installed_assets
from app.main import create_app
from app.settings import load_settings

HTML = {"accept": "text/html"}
ASSET_URL = re.compile(r'(?:src|href)="(/graphql/static/[^"]+)" integrity="(sha384-[^"]+)"')


def csp_of(page: httpx.Response) -> dict[str, list[str]]:
    policy = page.headers["content-security-policy"]
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in policy.split(";")) if d}


async def test_the_page_loads_only_versioned_assets_of_the_app_with_their_integrity(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers=HTML)

    assert page.status_code == 200
    assets = ASSET_URL.findall(page.text)
    version = installed_assets().version
    assert [url for url, _ in assets] == [f"/graphql/static/{version}/{name}" for name in (*STYLES, *SCRIPTS)]
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, nothing remote
    assert "<script>" not in page.text and "<style" not in page.text  # nothing inline
    for url, integrity in assets:
        served = await client.get(url)
        assert served.status_code == 200, url
        assert integrity == "sha384-" + base64.b64encode(hashlib.sha384(served.content).digest()).decode()


async def test_the_page_csp_allows_this_origin_only_with_a_fresh_style_nonce(client: httpx.AsyncClient) -> None:
    first = await client.get("/graphql", headers=HTML)
    second = await client.get("/graphql", headers=HTML)
    policy = csp_of(first)

    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    style_self, style_nonce = policy["style-src"]
    assert style_self == "'self'" and style_nonce.startswith("'nonce-")
    nonce = style_nonce.removeprefix("'nonce-").removesuffix("'")
    assert f'nonce="{nonce}"' in first.text  # our script reads it from its own tag
    assert csp_of(second)["style-src"] != policy["style-src"]
    assert first.headers["cache-control"] == "no-store"


async def test_assets_are_immutable_and_gzipped_for_clients_that_take_it(client: httpx.AsyncClient) -> None:
    url = f"/graphql/static/{installed_assets().version}/vendor/graphiql.min.js"

    plain = await client.get(url, headers={"accept-encoding": "identity"})
    zipped = await client.get(url, headers={"accept-encoding": "gzip"})

    assert plain.status_code == zipped.status_code == 200
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["content-type"].startswith("text/javascript")
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert zipped.content == plain.content  # httpx decoded it: the same bytes


async def test_other_versions_names_and_paths_are_not_found(client: httpx.AsyncClient) -> None:
    version = installed_assets().version
    for url in (
        "/graphql/static/0000000000000000/vendor/graphiql.min.js",  # an old deploy's page
        f"/graphql/static/{version}/vendor/.installed",
        f"/graphql/static/{version}/vendor/licenses/react.LICENSE",
        f"/graphql/static/{version}/..%2Fgraphiql.py",  # names are looked up, never joined to a path
        f"/graphql/static/{version}/graphiql.py",
    ):
        assert (await client.get(url)).status_code == 404, url


def test_a_missing_asset_gives_a_page_that_says_how_to_install_them(tmp_path: Path) -> None:
    assets = GraphiQLAssets.scan(tmp_path)

    page = assets.page("/graphql")

    assert page.status_code == 503
    assert b"scripts/graphiql-assets" in page.body
    assert set(assets.missing) == {*SCRIPTS, *STYLES}


async def test_prod_serves_no_assets(stores: None) -> None:
    prod = create_app(load_settings(app_env="prod", jwt_hs256_secret="s" * 48))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=prod), base_url="http://t") as http:
        url = f"/graphql/static/{installed_assets().version}/vendor/graphiql.min.js"
        assert (await http.get(url)).status_code == 404
        assert (await http.get("/graphql", headers=HTML)).status_code == 404
