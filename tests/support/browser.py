"""Headless Chromium for tests: Debian's /usr/bin/chromium (`scripts/services chromium` installs it),
driven by Playwright's Python package (never `playwright install`: no browser download).

The page may reach 127.0.0.1 only: every other request is recorded and aborted, and the browser's own
traffic goes to a proxy port nothing listens on, so a page that needed the internet would not work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Page, Route, async_playwright

from tests.support.processes import free_port

CHROMIUM = "/usr/bin/chromium"
# Playwright adds --headless and takes the profile directory as an argument (it refuses --user-data-dir).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = frozenset({"127.0.0.1"})
# Collects Content-Security-Policy violations from the first moment of every document.
CSP_RECORDER = (
    "window.__cspViolations = [];"
    "document.addEventListener('securitypolicyviolation', e =>"
    " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
)


@dataclass
class BrowserRecord:
    """What the page did on the network and in its console."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def non_local(self) -> list[str]:
        """Every URL the page asked for whose host is not 127.0.0.1 (data: URLs never hit the network)."""
        urls = [*self.requests, *self.websockets]
        return [u for u in urls if not u.startswith("data:") and urlsplit(u).hostname not in LOCAL_HOSTS]


async def csp_violations(page: Page) -> list[str]:
    return await page.evaluate("window.__cspViolations")


@asynccontextmanager
async def local_only_page(profile_dir: Path) -> AsyncIterator[tuple[Page, BrowserRecord]]:
    """A fresh Chromium profile with one page that can reach 127.0.0.1 and nothing else."""
    record = BrowserRecord()

    async def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            await route.continue_()
        else:
            record.blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            # Everything but 127.0.0.1 goes to a proxy that is not there (Playwright would proxy loopback too
            # unless the bypass names it).
            proxy={"server": f"http://127.0.0.1:{free_port()}", "bypass": "127.0.0.1"},
            viewport={"width": 1280, "height": 800},
        )
        try:
            await context.route("**/*", local_only)
            await context.add_init_script(CSP_RECORDER)
            page = context.pages[0] if context.pages else await context.new_page()
            page.on("request", lambda request: record.requests.append(request.url))
            page.on("websocket", lambda ws: record.websockets.append(ws.url))
            page.on("console", lambda m: record.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: record.console_errors.append(str(error)))
            yield page, record
        finally:
            await context.close()
