"""The access log: one line per HTTP request (status, size, request id, no query string), buffered and
written in order, silent below INFO."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.http import access_log
from app.http.access_log import AccessLog, LineBuffer
from app.http.middleware import edge_middleware
from app.settings import Settings

LINE = re.compile(
    r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO taskboard\.access: (?P<client>\S+) '
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/(?P<version>[\d.]+)" (?P<status>\d+) (?P<size>\d+)B '
    r"(?P<ms>\d+\.\d\d)ms id=(?P<id>\S+)$"
)


def build_app() -> Starlette:
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x" * int(request.query_params.get("n", "5")))

    async def broken(_: Request) -> PlainTextResponse:
        raise RuntimeError("boom")

    return Starlette(
        routes=[Route("/hello", hello, methods=["GET"]), Route("/broken", broken, methods=["GET"])],
        middleware=edge_middleware(Settings(_env_file=None)),
    )


@pytest.fixture
def level() -> Iterator[None]:
    before = access_log.LOGGER.level
    access_log.LOGGER.setLevel(logging.INFO)
    yield
    access_log.LOGGER.setLevel(before)


def lines(capsys: pytest.CaptureFixture[str]) -> list[re.Match[str]]:
    access_log.flush()
    out = capsys.readouterr().out.splitlines()
    matches = [LINE.match(line) for line in out]
    assert all(matches), out
    return matches  # type: ignore[return-value]


async def test_each_request_is_one_line_with_status_size_and_request_id(
    capsys: pytest.CaptureFixture[str], level: None
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app()), base_url="http://t") as http:
        lines(capsys)
        first = await http.get("/hello", params={"n": "7", "query": "secret-token"})
        second = await http.get("/missing", headers={"x-request-id": "client-chosen-1"})
    [one, two] = lines(capsys)
    assert (one["method"], one["path"], one["status"], one["size"]) == ("GET", "/hello", "200", "7")
    assert one["id"] == first.headers["x-request-id"]
    assert "secret-token" not in one.group(0)  # the query string is never logged
    assert (two["path"], two["status"], two["size"]) == ("/missing", "404", str(len(second.content)))
    assert two["id"] == "client-chosen-1"


async def test_a_failing_endpoint_is_logged_as_a_500(capsys: pytest.CaptureFixture[str], level: None) -> None:
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        lines(capsys)
        response = await http.get("/broken")
    assert response.status_code == 500
    [line] = lines(capsys)
    assert (line["path"], line["status"]) == ("/broken", "500")


async def test_nothing_is_written_below_info(capsys: pytest.CaptureFixture[str]) -> None:
    before = access_log.LOGGER.level
    access_log.LOGGER.setLevel(logging.WARNING)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app()), base_url="http://t") as http:
            lines(capsys)
            assert (await http.get("/hello")).status_code == 200
    finally:
        access_log.LOGGER.setLevel(before)
    assert lines(capsys) == []


async def test_buffered_lines_are_written_in_order_once_the_buffer_is_full(capsys: pytest.CaptureFixture[str]) -> None:
    buffer = LineBuffer(flush_after_s=3600, max_chars=12)  # the timer never fires within the test
    buffer.write("first\n")
    assert capsys.readouterr().out == ""
    buffer.write("second\n")  # 13 characters: full
    assert capsys.readouterr().out == "first\nsecond\n"
    buffer.write("third\n")
    buffer.flush()
    assert capsys.readouterr().out == "third\n"


def test_without_an_event_loop_a_line_is_written_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    LineBuffer(flush_after_s=3600).write("now\n")
    assert capsys.readouterr().out == "now\n"


async def test_websockets_and_lifespan_pass_through_unlogged(capsys: pytest.CaptureFixture[str], level: None) -> None:
    seen: list[str] = []

    async def app(scope: dict, receive: object, send: object) -> None:
        seen.append(scope["type"])

    lines(capsys)
    for kind in ("websocket", "lifespan"):
        await AccessLog(app)({"type": kind}, None, None)  # type: ignore[arg-type]
    assert seen == ["websocket", "lifespan"]
    assert lines(capsys) == []
