"""GraphiQL served from the app itself: no CDN, so it works offline and under a strict CSP.

The browser bundles (React, ReactDOM, GraphiQL 3's UMD build, the explorer plugin) are pinned npm packages
that `scripts/graphiql-assets` copies into `static/vendor/` at set-up (and in the Docker build). They are
served under `<graphql path>/static/<version>/...`, where the version is a digest of every file the page
loads: the URLs are immutable, so they are cached for a year, and a deploy with other files gets other URLs.
The page allows scripts and styles from this origin only (CSP), each with a sub-resource integrity hash.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

log = logging.getLogger("taskboard")

STATIC_DIR = Path(__file__).parent / "static"
# In load order; vendor/ names are the ones scripts/graphiql-assets writes.
SCRIPTS = (
    "vendor/react.production.min.js",
    "vendor/react-dom.production.min.js",
    "vendor/graphiql.min.js",
    "vendor/plugin-explorer.umd.js",
    "taskboard-graphiql.js",
)
STYLES = ("vendor/graphiql.min.css", "vendor/plugin-explorer.css", "taskboard-graphiql.css")
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"

# Only this origin: no CDN, no inline script. GraphiQL's CSS embeds its fonts and icons as data: URLs;
# connect-src 'self' covers the fetches and the subscription WebSocket (ws: of this host and port). The one
# inline style allowed is the <style> GraphiQL's dialogs add to <head> (react-remove-scroll): the page's
# script gives it the per-request nonce, since the UMD build offers no hook to pass one in.
CSP_DIRECTIVES = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'nonce-{nonce}'",
    "font-src 'self' data:",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)
PAGE_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
MISSING_HINT = "GraphiQL's browser assets are not installed: run scripts/graphiql-assets (scripts/bootstrap does)."


@dataclass(frozen=True)
class Asset:
    name: str
    path: Path
    integrity: str


@dataclass(frozen=True)
class GraphiQLAssets:
    """The files the page loads, hashed once per process."""

    assets: dict[str, Asset]
    version: str
    missing: tuple[str, ...]

    @classmethod
    def scan(cls, directory: Path) -> GraphiQLAssets:
        assets: dict[str, Asset] = {}
        missing: list[str] = []
        version = hashlib.sha256()
        for name in (*SCRIPTS, *STYLES):
            path = directory / name
            if not path.is_file():
                missing.append(name)
                continue
            content = path.read_bytes()
            version.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
            integrity = "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()
            assets[name] = Asset(name, path, integrity)
        return cls(assets, version.hexdigest()[:16], tuple(missing))

    def page(self, base: str) -> Response:
        """The GraphiQL page; `base` is the GraphQL endpoint's path (the assets live under it)."""
        if self.missing:
            log.warning("%s Missing: %s", MISSING_HINT, ", ".join(self.missing))
            return PlainTextResponse(MISSING_HINT, status_code=503, headers=PAGE_HEADERS)
        prefix = f"{base.rstrip('/')}/static/{self.version}/"
        nonce = secrets.token_urlsafe(18)

        def attrs(name: str, url_attr: str) -> str:
            asset = self.assets[name]
            return f'{url_attr}="{escape(prefix + name)}" integrity="{asset.integrity}"'

        styles = "\n".join(f'    <link rel="stylesheet" {attrs(name, "href")} />' for name in STYLES)
        *libraries, ours = SCRIPTS
        scripts = "\n".join(
            # Ours reads the nonce from its own tag (see CSP_DIRECTIVES).
            [*(f"    <script {attrs(name, 'src')}></script>" for name in libraries),
             f'    <script {attrs(ours, "src")} nonce="{nonce}"></script>']
        )
        csp = "; ".join(CSP_DIRECTIVES).format(nonce=nonce)
        headers = {**PAGE_HEADERS, "content-security-policy": csp}
        return HTMLResponse(_PAGE.format(styles=styles, scripts=scripts), headers=headers)

    def file(self, request: Request) -> Response:
        """One asset of this version, gzip when the client takes it; 404 for anything else."""
        name = request.path_params["name"]
        asset = self.assets.get(name)
        if asset is None or request.path_params["version"] != self.version:
            return PlainTextResponse("not found", status_code=404)
        headers = {"cache-control": IMMUTABLE, "x-content-type-options": "nosniff", "vary": "accept-encoding"}
        path = asset.path
        compressed = path.with_name(path.name + ".gz")
        if "gzip" in request.headers.get("accept-encoding", "") and compressed.is_file():
            path = compressed
            headers["content-encoding"] = "gzip"
        return FileResponse(path, media_type=MEDIA_TYPES[asset.path.suffix], headers=headers)


@cache
def installed_assets() -> GraphiQLAssets:
    """The assets in static/ (scanned on first use: processes that never serve GraphiQL never read them)."""
    return GraphiQLAssets.scan(STATIC_DIR)


def graphiql_page(request: Request) -> Response:
    """The page for a browser's GET of the GraphQL endpoint."""
    # ASGI paths include the root path, so this also holds behind a proxy that mounts the app elsewhere.
    return installed_assets().page(request.url.path)


async def graphiql_asset(request: Request) -> Response:
    """The route for `<graphql path>/static/{version}/{name:path}`."""
    return installed_assets().file(request)


_PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Taskboard API · GraphiQL</title>
    <link rel="icon" href="data:," />
{styles}
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <noscript>GraphiQL needs JavaScript.</noscript>
{scripts}
  </body>
</html>
"""
