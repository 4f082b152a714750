"""GraphiQL in a real browser, offline: headless Chromium opens /graphql on a real app process, signs in
through the Headers tab with the token `make run` prints, runs queries through the UI and reads the result
pane. The page may reach 127.0.0.1 only (tests.support.browser), so a CDN asset would leave it blank.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.graphql.test_subscriptions import create_task
from tests.support.browser import BrowserRecord, csp_violations, local_only_page
from tests.support.processes import ROOT, ServerProcess, app_server

# Generous: the first paint parses 3.5 MB of GraphiQL on a busy 2-core machine.
DEADLINE_MS = 60_000
# (text, operation name): replace_query waits for GraphiQL to have parsed the name.
BOARD = ("query TestBoard { tasks(first: 50) { totalCount nodes { title } } }", "TestBoard")
SUBSCRIPTION = ("subscription Changes { taskChanged { kind task { title } } }", "Changes")
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .CodeMirror"
RESULT = ".result-window"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with app_server() as process:
        yield process


def dev_token() -> str:
    """The token scripts/dev (`make run`) prints, minted by the same command."""
    command = [sys.executable, "-m", "app.cli", "token", "--email", "dev-admin@taskboard.local", "--create",
               "--name", "Dev Admin", "--role", "admin", "--ttl", "86400"]
    done = subprocess.run(command, cwd=ROOT, env=os.environ, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip().splitlines()[-1]


async def open_graphiql(page: Page, server: ServerProcess) -> None:
    response = await page.goto(f"{server.base_url}/graphql", timeout=DEADLINE_MS)
    assert response is not None and response.status == 200
    await expect(page.locator(QUERY_EDITOR)).to_be_visible(timeout=DEADLINE_MS)
    await page.get_by_role("button", name="Show GraphiQL Explorer").click()
    # The explorer plugin renders the default query's operation (from the introspected schema).
    await expect(page.locator("#query-Board")).to_be_visible(timeout=DEADLINE_MS)


async def paste_headers(page: Page, headers: dict[str, str]) -> None:
    """What the README tells people to do: open Headers, paste the JSON."""
    await page.get_by_role("button", name="Headers").click()
    editor = page.locator(HEADERS_EDITOR).last
    await expect(editor).to_be_visible()
    await editor.click()
    await page.keyboard.insert_text(json.dumps(headers))
    await expect(editor).to_contain_text("Authorization")


async def replace_query(page: Page, operation: tuple[str, str]) -> None:
    """Type the operation over the editor's text and wait until GraphiQL has parsed it.

    GraphiQL parses the editor 100 ms after the last change (debounced) and a run sends the operation name
    and picks the transport (HTTP or WebSocket) from that parse, which it keeps on the CodeMirror instance:
    a run before it sends the previous name. So wait for the parse to name this operation.
    """
    query, name = operation
    await page.locator(QUERY_EDITOR).click()
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(query)
    await page.wait_for_function(f"q => {editor_value(QUERY_EDITOR)} === q", arg=query, timeout=DEADLINE_MS)
    parsed = (
        f"name => {{ const editor = document.querySelector({json.dumps(QUERY_EDITOR)}).CodeMirror;"
        " return editor.operationName === name && (editor.operations || []).some(op => op.name?.value === name); }"
    )
    await page.wait_for_function(parsed, arg=name, timeout=DEADLINE_MS)
    # The explorer plugin draws the same operation.
    await expect(page.locator(f"[id$='-{name}']")).to_be_visible(timeout=DEADLINE_MS)


def editor_value(selector: str) -> str:
    """A JS expression: the text of the CodeMirror editor at selector (all of it, not just what is drawn)."""
    return f"document.querySelector({json.dumps(selector)}).CodeMirror.getValue()"


async def result_json(page: Page) -> dict:
    return json.loads(await page.evaluate(editor_value(f"{RESULT} .CodeMirror")))


async def run_through_the_ui(page: Page, server: ServerProcess, operation: tuple[str, str]) -> None:
    """Open GraphiQL, paste the dev token into Headers, type the operation and press the run button."""
    await open_graphiql(page, server)
    await paste_headers(page, {"Authorization": f"Bearer {dev_token()}"})
    await replace_query(page, operation)
    await page.locator(".graphiql-execute-button").click()


async def shows(page: Page, text: str, timeout_ms: int) -> bool:
    try:
        await expect(page.locator(RESULT)).to_contain_text(text, timeout=timeout_ms)
    except AssertionError:
        return False
    return True


def assert_offline_and_clean(record: BrowserRecord, violations: list[str]) -> None:
    assert record.non_local() == [] and record.blocked == []
    assert any("/graphql/static/" in url for url in record.requests)  # the assets came from the app
    assert violations == []
    assert record.console_errors == []


async def test_graphiql_runs_the_board_query_offline_with_the_dev_token(server, tmp_path: Path) -> None:
    titles = {f"browser task {i}" for i in range(3)}
    for title in titles:
        await create_task(server.base_url, title=title)

    async with local_only_page(tmp_path / "profile") as (page, record):
        await run_through_the_ui(page, server, BOARD)
        for title in titles:
            assert await shows(page, title, DEADLINE_MS), await page.locator(RESULT).inner_text()
        await page.screenshot(path=tmp_path / "graphiql.png")
        body = await result_json(page)
        # Dialogs add a <style> element: the CSP lets it in only with the page's nonce.
        await page.get_by_role("button", name="Open settings dialog").click()
        await expect(page.get_by_role("dialog")).to_contain_text("Persist headers")
        await page.keyboard.press("Escape")
        await expect(page.get_by_role("dialog")).to_have_count(0)
        violations = await csp_violations(page)

    assert "errors" not in body, body
    assert {node["title"] for node in body["data"]["tasks"]["nodes"]} == titles
    assert_offline_and_clean(record, violations)
    assert (tmp_path / "graphiql.png").stat().st_size > 0


async def test_graphiql_subscribes_over_the_websocket_with_the_headers_tab_as_connection_params(
    server, tmp_path: Path
) -> None:
    async with local_only_page(tmp_path / "profile") as (page, record):
        await run_through_the_ui(page, server, SUBSCRIPTION)
        # The subscription is live once the server has it; a task created before that goes unseen, so
        # create one per attempt until one reaches the result pane.
        deadline = time.monotonic() + DEADLINE_MS / 1000
        for attempt in itertools.count():
            title = f"pushed {attempt}."  # the dot: "pushed 1." is not part of "pushed 10."
            await create_task(server.base_url, title=title)
            if await shows(page, title, 1_000):
                break
            assert time.monotonic() < deadline, await page.locator(RESULT).inner_text()
        await page.screenshot(path=tmp_path / "graphiql-subscription.png")
        body = await result_json(page)
        violations = await csp_violations(page)

    assert body["data"]["taskChanged"] == {"kind": "CREATED", "task": {"title": title}}
    assert record.websockets == [server.base_url.replace("http://", "ws://") + "/graphql"]
    assert_offline_and_clean(record, violations)
