"""Shared subscription results written directly (app.graphql.direct_delivery): the same messages strawberry's
pipeline writes, the data of one result encoded once. Results with errors keep to the pipeline: see
tests/foundation/test_store_outages.py (MongoDB down, a subscriber's assignee as an error)."""

from __future__ import annotations

import re
import socket
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from app.graphql.direct_delivery import DirectSink, EncodedMessage, encoded_data
from app.graphql.view import TaskboardGraphQL
from tests.support.processes import app_server
from tests.support.ws import LEGACY_WS, post_as_admin, subscription, subscription_deliveries

_GUARD_S = 15.0  # a bound against hanging, not a measure of speed
DOCUMENT = "subscription { taskChanged { kind task { id title priority tags { name } } changedFields } }"


def _pipeline_text(message: dict[str, Any]) -> str:
    """The text strawberry's pipeline sends for a message (through the view's encoder)."""
    return TaskboardGraphQL.encode_json(None, message)  # type: ignore[arg-type]


@pytest.mark.parametrize("extensions", [None, {}, {"cost": 3, "rateLimit": {"limit": 100, "remaining": 97}}])
@pytest.mark.parametrize("operation_id", ["1", 'quote " and \\ back', "ünï"])
async def test_a_direct_message_is_the_text_the_pipeline_sends(extensions: Any, operation_id: str) -> None:
    data = {"taskChanged": {"kind": "CREATED", "task": {"id": "t1", "title": "naïve \"x\" \u2028", "tags": []},
                            "changedFields": ["title", "dueDate"], "n": [1, 2.5, None, True]}}
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    sink = DirectSink(operation_id, send, lambda: False)
    payload: dict[str, Any] = {"data": data}
    if extensions is not None:
        payload["extensions"] = extensions
    assert not sink.primed
    sink.prime(payload)
    assert sink.primed
    await sink.deliver(data)
    expected = {"id": operation_id, "type": "next", "payload": {"data": data}}
    if extensions:
        expected["payload"]["extensions"] = extensions
    assert isinstance(sent[0], EncodedMessage)
    assert sent[0] == _pipeline_text(expected)  # byte for byte
    assert _pipeline_text(sent[0]) is sent[0]  # the view passes it on as it is


async def test_one_result_object_is_encoded_once_and_nothing_goes_out_after_complete() -> None:
    data = {"taskChanged": {"kind": "UPDATED"}}
    assert encoded_data(data) is encoded_data(data)
    assert encoded_data(dict(data)) is not encoded_data(data)  # an equal but other object: its own encoding
    sent: list[Any] = []
    completed = False

    async def send(message: Any) -> None:
        sent.append(message)

    sink = DirectSink("7", send, lambda: completed)
    sink.prime({"data": data})
    await sink.deliver(data)
    completed = True
    await sink.deliver(data)
    assert len(sent) == 1


@pytest.fixture(scope="module")
def server():
    with app_server() as instance:
        yield instance


async def test_after_its_first_result_a_transport_ws_subscriber_gets_shared_events_directly_as_legacy_gets_them(
    server,
) -> None:
    url = server.base_url
    tag = (await post_as_admin(url, 'mutation { createTag(name: "direct-delivery", color: "#112233") { id } }'))["createTag"]
    async with AsyncExitStack() as stack:
        # Given a graphql-transport-ws subscriber and a legacy graphql-ws one (always the pipeline) on one document
        modern = await stack.enter_async_context(subscription(url, DOCUMENT))
        legacy = await stack.enter_async_context(subscription(url, DOCUMENT, protocol=LEGACY_WS))
        before = await subscription_deliveries(url)

        # When three changes are committed
        created = (await post_as_admin(url, "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                                       {"i": {"title": "direct one", "tagIds": [tag["id"]]}}))["createTask"]
        await post_as_admin(url, "mutation($id: ID!) { updateTask(id: $id, input: {title: \"direct two\"}) { id } }",
                            {"id": created["id"]})
        await post_as_admin(url, "mutation($id: ID!) { updateTask(id: $id, input: {priority: HIGH}) { id } }",
                            {"id": created["id"]})
        modern_messages = [await modern.next_message() for _ in range(3)]
        legacy_payloads = [await legacy.next_payload() for _ in range(3)]

        # Then both hear the same three payloads, extensions included
        assert [m["type"] for m in modern_messages] == ["next"] * 3
        assert [m["id"] for m in modern_messages] == ["1"] * 3
        assert [m["payload"] for m in modern_messages] == legacy_payloads
        assert [p["data"]["taskChanged"]["task"]["title"] for p in legacy_payloads] == ["direct one", "direct two",
                                                                                       "direct two"]
        assert legacy_payloads[2]["data"]["taskChanged"]["task"]["priority"] == "HIGH"
        assert legacy_payloads[0]["data"]["taskChanged"]["task"]["tags"] == [{"name": "direct-delivery"}]
        assert set(legacy_payloads[0].get("extensions", {})) == {"cost", "rateLimit"}
        # and the transport-ws subscriber's first came through the pipeline, the two after it directly, written to
        # its socket as frames (uvicorn's connection, open and under its high-water mark), at their arrival or by
        # the subscriber's task (when an event arrives while it is still busy with the one before)
        delta = {path: count - before[path] for path, count in (await subscription_deliveries(url)).items()}
        assert (delta["pipeline"], delta["direct"], delta["frame"] + delta["inline"]) == (1 + 3, 0, 2)


async def test_a_waiting_subscriber_gets_each_shared_event_written_at_its_arrival_in_commit_order(server) -> None:
    url = server.base_url
    async with AsyncExitStack() as stack:
        # Given two transport-ws subscribers of one document, each reading every message before the next change
        first = await stack.enter_async_context(subscription(url, DOCUMENT))
        second = await stack.enter_async_context(subscription(url, DOCUMENT))
        created = (await post_as_admin(url, "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                                       {"i": {"title": "inline 0"}}))["createTask"]
        primed = [await s.next_message() for s in (first, second)]  # each one's first: strawberry's pipeline
        before = await subscription_deliveries(url)

        # When the task is renamed three times, each rename once both have read the one before
        titles = []
        for n in range(1, 4):
            await post_as_admin(url, "mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) "
                                     "{ id } }", {"id": created["id"], "t": f"inline {n}"})
            titles.append([(await s.next_message())["payload"]["data"]["taskChanged"]["task"]["title"]
                           for s in (first, second)])

        # Then both hear every rename in order, in the message strawberry would have sent
        assert titles == [[f"inline {n}"] * 2 for n in range(1, 4)]
        assert [m["payload"]["data"]["taskChanged"]["kind"] for m in primed] == ["CREATED"] * 2
        # written at each event's arrival, the subscribers' tasks never woken for them
        delta = {path: count - before[path] for path, count in (await subscription_deliveries(url)).items()}
        assert delta == {"pipeline": 0, "direct": 0, "frame": 0, "inline": 3 * 2}


@pytest.fixture(scope="module")
def small_queue_server():
    with app_server({"EVENTS_QUEUE_SIZE": "4"}) as instance:
        yield instance


def _big_description(n: int) -> str:
    return "\U0001F600" * 9_995 + f"{n:05d}"


async def _dropped(url: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    found = re.search(r"^taskboard_events_dropped_subscribers(?:\{[^}]*\})? (\S+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


async def test_a_subscriber_that_stops_reading_backs_up_into_its_queue_and_is_dropped_its_frames_whole_and_in_order(
    small_queue_server,
) -> None:
    url = small_queue_server.base_url
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a reader whose window fills at once
    sock.connect((host, int(port)))
    sock.setblocking(False)
    # ~160 KB a message (4 copies of 10,000 four-byte characters): the kernel's send buffer on the loopback
    # grows to 4 MiB, so it takes a few dozen of them to fill it
    document = "subscription { taskChanged { task { title a: description b: description c: description d: description } } }"
    before = await _dropped(url)
    async with subscription(url, document, connect_options={"sock": sock, "max_queue": 1}) as reader:
        # Given a subscriber that stops reading, when large changes keep coming
        sent = []
        for n in range(200):
            title = f"backlog {n}"
            await post_as_admin(url, "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                                {"i": {"title": title, "description": _big_description(n)}})
            sent.append(title)
            if await _dropped(url) > before:
                break
        # Then the server stops writing to it (its transport over the high-water mark, the ASGI send waits)
        # and, its queue of 4 full, drops it: far fewer events than the server would otherwise buffer
        assert await _dropped(url) == before + 1, "never dropped"
        assert len(sent) < 100

        # and what it did get, once it reads again, is whole messages, in commit order, then the reason it ended
        titles, ended = [], None
        while ended is None:
            message = await reader.next_message(timeout=_GUARD_S)
            if message["type"] == "next" and not message["payload"].get("errors"):
                task = message["payload"]["data"]["taskChanged"]["task"]
                n = int(task["title"].removeprefix("backlog "))
                assert [task[alias] for alias in "abcd"] == [_big_description(n)] * 4
                titles.append(task["title"])
            else:
                ended = message
        assert titles == sent[:len(titles)] and titles
        assert ended["type"] == "next", ended  # the stream's error as its last result, then its end
        assert [error["extensions"]["code"] for error in ended["payload"]["errors"]] == ["SUBSCRIBER_TOO_SLOW"]
        assert (await reader.next_message(timeout=_GUARD_S))["type"] == "complete"
