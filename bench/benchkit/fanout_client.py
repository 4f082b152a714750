"""Subscriber process for the fan-out workload: N graphql-transport-ws sockets on `taskChanged`, each
signed in as its own principal (a line of the --tokens file).

Talks to the orchestrator (benchkit/fanout.py) by lines: prints READY once every socket is acknowledged
and subscribed, PRIMED once every socket has received an event; on STOP (stdin) it closes the sockets,
writes {seq: [monotonic receive times]} and its counters as JSON to --out, and prints DONE.
Times are time.monotonic() (CLOCK_MONOTONIC: one clock for every process on the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from dataclasses import dataclass, field

import orjson
import uvloop
from websockets.asyncio.client import ClientConnection, connect

SUBSCRIPTION = "subscription Fanout { taskChanged { kind task { id title } changedFields } }"
MARKER = "bench-fanout "


@dataclass
class Tally:
    received: dict[int, list[float]] = field(default_factory=dict)
    primed: set[int] = field(default_factory=set)
    messages: int = 0
    errors: list[str] = field(default_factory=list)
    closed: int = 0


def _seq_of(message: dict) -> int | None:
    """The sequence number in the event's task title ('bench-fanout <n>'); warm-up events have none."""
    event = ((message.get("payload") or {}).get("data") or {}).get("taskChanged") or {}
    title = ((event.get("task") or {}).get("title")) or ""
    tail = title.removeprefix(MARKER)
    return int(tail) if tail.isdigit() else None


async def _open(url: str, authorization: str) -> ClientConnection:
    headers = {"Authorization": authorization} if authorization else {}
    ws = await connect(
        url, subprotocols=["graphql-transport-ws"], additional_headers=headers, max_queue=None, open_timeout=30,
        ping_interval=None,
    )
    payload = {"Authorization": authorization} if authorization else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    while True:
        reply = json.loads(await ws.recv())
        if reply.get("type") == "connection_ack":
            break
        if reply.get("type") == "ping":
            await ws.send('{"type":"pong"}')
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
    return ws


async def _listen(ws: ClientConnection, index: int, tally: Tally, all_primed: asyncio.Event, total: int) -> None:
    try:
        async for raw in ws:
            now = time.monotonic()
            message = orjson.loads(raw)
            kind = message.get("type")
            if kind == "ping":
                await ws.send('{"type":"pong"}')
                continue
            if kind != "next":
                if kind in ("error", "complete"):
                    tally.errors.append(str(message)[:300])
                continue
            if message.get("payload", {}).get("errors"):
                tally.errors.append(str(message["payload"]["errors"])[:300])
            tally.messages += 1
            if index not in tally.primed:
                tally.primed.add(index)
                if len(tally.primed) == total:
                    all_primed.set()
            seq = _seq_of(message)
            if seq is not None:
                tally.received.setdefault(seq, []).append(now)
    except Exception as exc:  # noqa: BLE001 - a dropped socket is a result, not a crash
        tally.errors.append(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        tally.closed += 1


async def _open_all(url: str, authorizations: list[str], parallel: int = 50) -> list[ClientConnection]:
    gate = asyncio.Semaphore(parallel)

    async def one(index: int) -> ClientConnection:
        async with gate:
            return await _open(url, authorizations[index])

    return await asyncio.gather(*(one(i) for i in range(len(authorizations))))


async def _stdin_line() -> str:
    return await asyncio.to_thread(sys.stdin.readline)


def authorizations(count: int, tokens: str, offset: int) -> list[str]:
    """Socket i's 'Bearer ...': line offset + i of the tokens file (one principal per socket), or none."""
    if not tokens:
        return [""] * count
    with open(tokens) as handle:
        lines = [line.strip() for line in handle if line.strip()]
    chosen = lines[offset : offset + count]
    if len(chosen) < count:
        raise SystemExit(f"{tokens} has {len(lines)} tokens, need {offset + count}")
    return chosen


async def main(url: str, count: int, out: str, tokens: str, offset: int) -> None:
    tally = Tally()
    sockets = await _open_all(url, authorizations(count, tokens, offset))
    all_primed = asyncio.Event()
    listeners = [asyncio.create_task(_listen(ws, i, tally, all_primed, count)) for i, ws in enumerate(sockets)]
    print("READY", flush=True)

    async def announce_primed() -> None:
        await all_primed.wait()
        print("PRIMED", flush=True)

    announcer = asyncio.create_task(announce_primed())
    while (await _stdin_line()).strip() not in ("STOP", ""):
        pass
    announcer.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    await asyncio.wait(listeners, timeout=10)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "received": {str(k): v for k, v in tally.received.items()},
        "messages": tally.messages,
        "primed": len(tally.primed),
        "errors": tally.errors[:20],
        "error_count": len(tally.errors),
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }
    with open(out, "w") as handle:
        json.dump(result, handle)
    print("DONE", flush=True)


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tokens", default="", help="file of 'Bearer <token>' lines: socket i uses line offset + i "
                        "for the upgrade and connection_init")
    parser.add_argument("--offset", type=int, default=0)
    args = parser.parse_args()
    _raise_fd_limit()
    # uvloop, as the server: a subscriber process must not be the slower end of what it measures.
    uvloop.install()
    asyncio.run(main(args.url, args.count, args.out, args.tokens, args.offset))
