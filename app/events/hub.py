"""The per-process pub/sub hub: one Redis PubSub connection, one reader task, a bounded queue per subscriber.

- A Redis channel is subscribed when its first local subscriber arrives and unsubscribed when its last
  leaves; a control channel stays subscribed so the connection always has a subscription.
- The reader never waits on a subscriber: a subscriber whose queue is full is dropped (it gets a
  DROPPED notice and its stream ends) and a warning is logged.
- On connection loss (an error, or no answer to PING for two intervals) every subscriber gets a
  DISCONNECTED notice; the reader reconnects with jittered exponential backoff, resubscribes every
  active channel, and each subscriber gets RECONNECTED once its channel is confirmed again.
- close() ends every stream; leaving the `async with` block releases the subscription.
- An arrival hook may return an awaitable (work every subscriber of the payload needs, e.g. loading what
  the event is about): the payload reaches the subscribers once it is done, so they wake once, with
  everything ready, instead of waking to wait. Payloads and notices keep their order: while one is held,
  everything after it waits its turn.
- A subscriber may take payloads inline (`Subscription.inline`): at arrival, while its consumer waits with
  nothing unread, so a thousand subscribers that need nothing awaited cost no task switch each.

On a Redis Cluster (`cluster=True`) the channels are sharded channels (SSUBSCRIBE; the publisher SPUBLISHes)
and share one hash slot (app/events/keys.py), so the hub still has one connection: to the primary that
serves that slot, found from the cluster's slot map on every (re)connect. Its failures look like a lost
connection and give the same notices: the node dying or failing over (an error, or no PONG), the slot
moving away (Redis ends the subscriptions with an unrequested SUNSUBSCRIBE), or the node reporting
`cluster_state:fail` (checked with every PING: while the cluster is down a publish to this slot may be
refused even though the connection is fine). The reconnect asks the cluster again where the slot is.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.cache.link import REDIS_ERRORS
from app.events import keys
from app.settings import Settings
from app.stores.redis import db_of

log = logging.getLogger("taskboard.events")

T = TypeVar("T")
# Called with a payload's decoded items when the reader receives it; may return work the payload's
# subscribers need done before it reaches them (see the module docstring).
ArrivalHook = Callable[[Iterable[Any]], Awaitable[Any] | None]
# A subscriber's own handling of one decoded item, done at arrival in the reader's turn of the event loop
# (it must not block): True when it took the item (its consumer never sees it), False to leave it to the
# consumer. See Subscription.offer.
InlineStep = Callable[[Any], bool]

NoticeKind = Literal["DISCONNECTED", "RECONNECTED", "DROPPED", "EXPIRED"]
_BACKOFF_START_S = 0.1
_DECODED_PAYLOADS = 64
_END: Any = object()


@dataclass(frozen=True)
class SubscriberNotice:
    """Not an event. DISCONNECTED: events may be missed until RECONNECTED, after which state should be
    re-read. DROPPED: this subscriber fell too far behind; its stream ends after this notice. EXPIRED: the
    subscriber's own deadline passed (`Subscription.end_at`); its stream ends after this notice."""

    kind: NoticeKind
    message: str


def raw(payload: bytes) -> list[bytes]:
    """The default decoder: each payload as it was published."""
    return [payload]


class Subscription(Generic[T]):
    """`async with hub.subscribe(channel) as stream: async for item in stream` (items: T or SubscriberNotice)."""

    def __init__(
        self, hub: Hub, channel: str, decode: Callable[[bytes], Iterable[T]], limit: int,
        on_arrival: ArrivalHook | None = None,
    ) -> None:
        self.channel = channel
        self.on_arrival = on_arrival
        self._hub = hub
        self._decode = decode
        self._limit = limit
        self._queue: deque[Any] = deque()
        self._decoded: deque[T] = deque()
        self._wakeup = asyncio.Event()
        self._deadline: asyncio.TimerHandle | None = None
        self._ended = False
        self._entered = False
        self._waiting = False  # the consumer waits in __anext__ with nothing left to read
        self.in_gap = False  # told DISCONNECTED, not yet RECONNECTED
        # Takes a decoded item at arrival, without waking the consumer, when it can (see `offer`).
        self.inline: InlineStep | None = None

    async def __aenter__(self) -> Subscription[T]:
        self._entered = True
        try:
            await self._hub._attach(self)
        except BaseException:
            await self.aclose()  # cancelled while waiting for Redis: do not leave a subscriber behind
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T | SubscriberNotice:
        if not self._entered:
            raise RuntimeError("enter the subscription first: `async with hub.subscribe(channel) as stream`")
        while not self._decoded:
            if not self._queue:
                self._wakeup.clear()
                self._waiting = True
                try:
                    await self._wakeup.wait()
                finally:
                    self._waiting = False
                continue  # items (or what an inline step left) arrived
            item = self._queue[0]
            if item is _END:
                raise StopAsyncIteration
            self._queue.popleft()
            if isinstance(item, SubscriberNotice):
                return item
            self._decoded.extend(self._decode_safely(item))
        return self._decoded.popleft()

    @property
    def idle(self) -> bool:
        """Whether the consumer waits for the next item with nothing unread (when `inline` may take one)."""
        return self._waiting and not self._queue and not self._decoded

    def end_at(self, when: float, notice: SubscriberNotice) -> None:
        """End the stream with `notice` at event-loop time `when` (one timer per stream, not one per item)."""
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = asyncio.get_running_loop().call_at(when, self.end, notice)

    async def aclose(self) -> None:
        """Leave the channel (idempotent); the stream ends."""
        if self._deadline is not None:
            self._deadline.cancel()
        self.end()
        await self._hub._detach(self)

    def offer(self, item: bytes | SubscriberNotice) -> bool:
        """Queue an item without waiting; False when the queue is full (the hub then drops us).

        With an `inline` step, a payload that arrives while the consumer waits with nothing unread is
        handed to the step item by item instead: each item it takes (returns True for) is done with, and
        the consumer is not woken for it; from the first item it does not take (or that raises), the items
        wait for the consumer in order, as any payload does. Notices always go to the consumer."""
        if self._ended:
            return True
        if self.inline is not None and self.idle and not isinstance(item, SubscriberNotice):
            self._offer_inline(self.inline, item)
            return True
        if len(self._queue) >= self._limit:
            return False
        self._queue.append(item)
        self._wakeup.set()
        return True

    def _offer_inline(self, step: InlineStep, payload: bytes) -> None:
        items = tuple(self._decode_safely(payload))
        for position, item in enumerate(items):
            try:
                taken = step(item)
            except Exception:  # noqa: BLE001 - the consumer meets the item (and its failure) its own way
                log.warning("events: an inline step failed on %s; the subscriber reads the item", self.channel,
                            exc_info=True)
                taken = False
            if not taken:
                self._decoded.extend(items[position:])
                self._wakeup.set()
                return

    def end(self, notice: SubscriberNotice | None = None) -> None:
        """End the stream: undelivered items are discarded, then `notice` (if any), then the end."""
        if self._ended:
            return
        self._ended = True
        if notice is not None:
            self._queue.clear()
            self._decoded.clear()
            self._queue.append(notice)
        self._queue.append(_END)
        self._wakeup.set()

    def _decode_safely(self, payload: bytes) -> Iterable[T]:
        try:
            return self._decode(payload)
        except Exception:  # noqa: BLE001 - one bad payload must not end the stream
            log.warning("events: skipped an undecodable payload on %s", self.channel, exc_info=True)
            return ()


@dataclass
class _Channel:
    subscribers: set[Subscription[Any]] = field(default_factory=set)
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)


class Hub:
    """One per process; tests make several (each with its own connection) to stand in for processes."""

    def __init__(
        self,
        redis_url: str,
        *,
        queue_size: int = 100,
        timeout_s: float = 0.5,
        reconnect_max_s: float = 5.0,
        ping_s: float = 5.0,
        name: str = "taskboard-hub",
        cluster: bool = False,
    ) -> None:
        self._url = redis_url
        # Only for the slot map: which node serves the events slot.
        self._cluster = (
            RedisCluster.from_url(redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
            if cluster else None
        )
        self._redis = self._node_client(redis_url, timeout_s, name)
        # The cluster client when there is one: a cluster has database 0 only, whatever the node client's URL says.
        self.db = db_of(self._cluster if self._cluster is not None else self._redis)
        self.name = name
        self.queue_size = queue_size
        self._timeout_s = timeout_s
        self._confirm_timeout_s = max(2.0, 4 * timeout_s)
        self._reconnect_max_s = reconnect_max_s
        self._ping_s = ping_s
        self._control = keys.control(self.db)
        self._channels: dict[str, _Channel] = {}
        self._decoders: dict[Callable[[bytes], Iterable[Any]], Callable[[bytes], tuple[Any, ...]]] = {}
        self._subscribed: set[str] = set()
        self._pubsub: PubSub | None = None
        self._lock = asyncio.Lock()  # one command at a time on the PubSub connection
        self._reader: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        # Deliveries waiting for their payload's arrival work (or for one held before them), in order.
        self._held: deque[tuple[Awaitable[Any] | None, Callable[[], None]]] = deque()
        self._releaser: asyncio.Task[None] | None = None
        self._live = asyncio.Event()
        self._outage = False
        self._closed = False
        self._delay = _BACKOFF_START_S
        self._last_heard = self._last_ping = time.monotonic()
        self.reconnects = 0
        self.dropped = 0
        self.received = 0
        self.delivered = 0

    @classmethod
    def from_settings(cls, settings: Settings, *, name: str = "taskboard-hub") -> Hub:
        return cls(
            settings.redis_url,
            queue_size=settings.events_queue_size,
            timeout_s=settings.redis_timeout_s,
            reconnect_max_s=settings.events_reconnect_max_s,
            ping_s=settings.events_ping_s,
            name=name,
            cluster=settings.redis_cluster,
        )

    @staticmethod
    def _node_client(url: str, timeout_s: float, name: str) -> Redis:
        # No retries inside redis-py: a broken connection must surface here so subscribers are told.
        return Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0),
            client_name=name,
        )

    # -------------------------------------------------------------------------------- public

    async def start(self, wait_s: float | None = None) -> None:
        """Start the reader; wait up to wait_s for the first connection (it keeps trying in any case)."""
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._run(), name=f"{self.name}-reader")
        try:
            await asyncio.wait_for(self._live.wait(), wait_s if wait_s is not None else self._confirm_timeout_s)
        except TimeoutError:
            log.warning("events: Redis pub/sub not connected yet; the hub keeps trying")

    def subscribe(
        self, channel: str, decode: Callable[[bytes], Iterable[T]] = raw,  # type: ignore[assignment]
        *, on_arrival: ArrivalHook | None = None,
    ) -> Subscription[T]:
        """A subscription to use with `async with`; entering it waits until Redis confirms the channel.

        Every subscriber gets the same payload object, so each decoder runs once per payload, not once per
        subscriber: its (immutable) result is remembered for the last few payloads.

        `on_arrival` is called with the decoded items of each payload as the reader receives it, once per
        payload for all the channel's subscribers that pass the same function (e.g. to start work every one
        of them will wait for, instead of letting the first to get there start it). It must not block;
        what it raises is logged.
        """
        shared = self._decoders.get(decode)
        if shared is None:
            shared = self._decoders[decode] = functools.lru_cache(maxsize=_DECODED_PAYLOADS)(
                lambda payload: tuple(decode(payload))
            )
        return Subscription(self, channel, shared, self.queue_size, on_arrival)

    async def close(self) -> None:
        """End every subscription and the connection."""
        self._closed = True
        if self._releaser is not None:
            self._releaser.cancel()  # the streams end below: nothing held is owed to anyone
        self._held.clear()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        for channel in self._channels.values():
            for subscription in channel.subscribers:
                subscription.end()
        self._channels.clear()
        await self._drop_connection()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._redis.aclose()
        if self._cluster is not None:
            await self._cluster.aclose()

    def stats(self) -> dict[str, Any]:
        """Counters for /metrics."""
        return {
            "connected": self._pubsub is not None and not self._outage,
            "subscribers": sum(len(channel.subscribers) for channel in self._channels.values()),
            "channels": len(self._subscribed - {self._control}),
            "reconnects": self.reconnects,
            "dropped_subscribers": self.dropped,
            "received": self.received,
            "delivered": self.delivered,
        }

    # -------------------------------------------------------------------------- subscribers

    async def _attach(self, subscription: Subscription[Any]) -> None:
        if self._closed:
            raise RuntimeError("the events hub is closed")
        channel = self._channels.setdefault(subscription.channel, _Channel())
        channel.subscribers.add(subscription)
        if not self._outage:
            await self._sync(subscription.channel)
            try:
                await asyncio.wait_for(channel.confirmed.wait(), self._confirm_timeout_s)
                return
            except TimeoutError:
                pass
        self._tell(subscription, "DISCONNECTED", "not subscribed yet: events may be missed until RECONNECTED")

    async def _detach(self, subscription: Subscription[Any]) -> None:
        channel = self._channels.get(subscription.channel)
        if channel is None or subscription not in channel.subscribers:
            return
        channel.subscribers.discard(subscription)
        if not channel.subscribers and not self._closed:
            # Shielded: a cancelled consumer (client gone) must still release the Redis subscription.
            await asyncio.shield(self._in_background(self._sync(subscription.channel)))

    def _deliver(self, subscription: Subscription[Any], item: bytes | SubscriberNotice) -> None:
        if subscription.offer(item):
            self.delivered += 1
            return
        self.dropped += 1
        log.warning("events: dropped a slow subscriber of %s (its queue of %d was full)", subscription.channel, self.queue_size)
        subscription.end(SubscriberNotice("DROPPED", "too slow: the stream fell behind and was ended"))
        channel = self._channels.get(subscription.channel)
        if channel is not None:
            channel.subscribers.discard(subscription)
            if not channel.subscribers:
                self._in_background(self._sync(subscription.channel))

    def _tell(self, subscription: Subscription[Any], kind: NoticeKind, message: str) -> None:
        gap = kind == "DISCONNECTED"
        if subscription.in_gap != gap:
            subscription.in_gap = gap
            notice = SubscriberNotice(kind, message)
            self._in_order(None, lambda: self._deliver(subscription, notice))

    def _in_background(self, work: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _sync(self, name: str) -> None:
        """Make the Redis subscription of `name` match whether it has local subscribers."""
        async with self._lock:
            while True:
                channel = self._channels.get(name)
                wanted = channel is not None and bool(channel.subscribers)
                have = name in self._subscribed
                if wanted == have or self._pubsub is None:
                    if channel is not None and not wanted and not have:
                        del self._channels[name]
                    return
                try:
                    if wanted:
                        await asyncio.wait_for(self._subscribe(self._pubsub, name), self._timeout_s)
                        self._subscribed.add(name)
                    else:
                        self._subscribed.discard(name)  # first: its confirmation is then not taken for a slot move
                        await asyncio.wait_for(self._unsubscribe(self._pubsub, name), self._timeout_s)
                except REDIS_ERRORS as exc:
                    # Let the reader see the broken connection: it reconnects and resubscribes.
                    log.warning("events: (un)subscribing %s failed (%s); reconnecting", name, exc)
                    pubsub, self._pubsub = self._pubsub, None
                    await pubsub.aclose()
                    return

    # ------------------------------------------------------------------------------ reader

    async def _run(self) -> None:
        while True:
            try:
                await self._connect()
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect
                await self._lost(exc)
            await asyncio.sleep(self._delay * random.uniform(0.5, 1.0))
            self._delay = min(self._delay * 2, self._reconnect_max_s)

    def _subscribe(self, pubsub: PubSub, *names: str) -> Any:
        return pubsub.ssubscribe(*names) if self._cluster is not None else pubsub.subscribe(*names)

    def _unsubscribe(self, pubsub: PubSub, *names: str) -> Any:
        return pubsub.sunsubscribe(*names) if self._cluster is not None else pubsub.unsubscribe(*names)

    async def _locate(self) -> None:
        """Cluster: point the hub's client at the primary serving the events slot now, once the cluster is ok."""
        assert self._cluster is not None
        await asyncio.wait_for(self._cluster.nodes_manager.initialize(), self._confirm_timeout_s)
        node = self._cluster.get_node_from_key(self._control)
        parts = urlsplit(self._url)
        netloc = f"{parts.netloc.rsplit('@', 1)[0]}@" if "@" in parts.netloc else ""
        url = urlunsplit(parts._replace(netloc=f"{netloc}{node.host}:{node.port}", path="/0"))
        if self._redis.connection_pool.connection_kwargs.get("port") != node.port or (
            self._redis.connection_pool.connection_kwargs.get("host") != node.host
        ):
            old, self._redis = self._redis, self._node_client(url, self._timeout_s, self.name)
            await old.aclose()
        await self._check_cluster_state()

    async def _check_cluster_state(self) -> None:
        info = await asyncio.wait_for(self._redis.execute_command("CLUSTER INFO"), self._timeout_s)
        state = info.get("cluster_state") if isinstance(info, dict) else None  # redis-py parses the reply
        if state != "ok":
            raise ConnectionError("the Redis Cluster reports cluster_state:fail")

    async def _connect(self) -> None:
        if self._cluster is not None:
            await self._locate()
        pubsub = self._redis.pubsub()
        async with self._lock:
            wanted = [self._control, *(name for name, ch in self._channels.items() if ch.subscribers)]
            try:
                await asyncio.wait_for(self._subscribe(pubsub, *wanted), self._timeout_s)
            except BaseException:
                await pubsub.aclose()
                raise
            for name in [name for name, ch in self._channels.items() if not ch.subscribers]:
                del self._channels[name]
            self._pubsub = pubsub
            self._subscribed = set(wanted)
        self._last_heard = self._last_ping = time.monotonic()

    async def _read(self) -> None:
        tick = min(1.0, self._ping_s / 2)
        while True:
            pubsub = self._pubsub
            if pubsub is None:
                raise ConnectionError("the pub/sub connection was closed")
            message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=tick)
            now = time.monotonic()
            if message is not None:
                self._last_heard = now
                self._handle(message)
                continue
            if now - self._last_heard > 2 * self._ping_s:
                raise ConnectionError(f"no answer from Redis for {now - self._last_heard:.1f}s")
            if now - self._last_ping >= self._ping_s:
                self._last_ping = now
                async with self._lock:
                    await asyncio.wait_for(pubsub.ping(), self._timeout_s)
                if self._cluster is not None:
                    await self._check_cluster_state()

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        name = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
        if kind in ("message", "smessage"):
            self.received += 1
            channel = self._channels.get(name)
            subscribers = list(channel.subscribers if channel else ())
            hooks: dict[ArrivalHook, Callable[[bytes], Iterable[Any]]] = {}
            for subscription in subscribers:
                if subscription.on_arrival is not None:
                    hooks[subscription.on_arrival] = subscription._decode
            data = message["data"]
            work = [ready for hook, decode in hooks.items()
                    if (ready := self._arrived(hook, decode, data, name)) is not None]
            ready = work[0] if len(work) == 1 else asyncio.gather(*work, return_exceptions=True) if work else None
            self._in_order(ready, lambda: self._deliver_all(name, subscribers, data))
        elif kind in ("subscribe", "ssubscribe"):
            self._confirmed(name)
        elif kind == "sunsubscribe" and name in self._subscribed:
            # Not asked for (_sync forgets a channel before unsubscribing it): its slot moved to another node.
            raise ConnectionError(f"Redis Cluster moved the slot of {name}")

    def _arrived(
        self, hook: ArrivalHook, decode: Callable[[bytes], Iterable[Any]], payload: bytes, name: str
    ) -> Awaitable[Any] | None:
        try:
            return hook(decode(payload))
        except Exception:  # noqa: BLE001 - the reader serves every channel: one hook must not stop it
            log.warning("events: an arrival hook failed on %s", name, exc_info=True)
            return None

    def _deliver_all(self, name: str, subscribers: list[Subscription[Any]], item: bytes) -> None:
        """Deliver to the subscribers the channel had when the payload arrived and still has."""
        channel = self._channels.get(name)
        current = channel.subscribers if channel is not None else ()
        for subscription in subscribers:
            if subscription in current:
                self._deliver(subscription, item)

    def _in_order(self, ready: Awaitable[Any] | None, deliver: Callable[[], None]) -> None:
        """Deliver now, or once `ready` is done and everything held before has gone out."""
        if ready is None and not self._held:
            deliver()
            return
        self._held.append((ready, deliver))
        if self._releaser is None or self._releaser.done():
            self._releaser = self._in_background(self._release())

    async def _release(self) -> None:
        while self._held:
            ready, deliver = self._held[0]
            if ready is not None:
                try:
                    await ready
                except Exception:  # noqa: BLE001 - each subscriber meets the failure itself when it reads the payload
                    pass
            self._held.popleft()
            deliver()

    def _confirmed(self, name: str) -> None:
        if name == self._control:
            self._live.set()
            self._delay = _BACKOFF_START_S
            if self._outage:
                self._outage = False
                self.reconnects += 1
                log.warning("events: Redis pub/sub reconnected; resubscribed %d channel(s)", len(self._subscribed) - 1)
            return
        channel = self._channels.get(name)
        if channel is None:
            return
        channel.confirmed.set()
        for subscription in list(channel.subscribers):
            self._tell(subscription, "RECONNECTED", "subscribed again: re-read state, events may have been missed")

    async def _lost(self, exc: BaseException) -> None:
        await self._drop_connection()
        self._live.clear()
        for channel in self._channels.values():
            channel.confirmed.clear()
        if self._outage:
            log.debug("events: Redis pub/sub still unavailable (%s)", exc)
            return
        self._outage = True
        log.warning("events: Redis pub/sub connection lost (%s: %s); reconnecting", type(exc).__name__, exc)
        for channel in self._channels.values():
            for subscription in list(channel.subscribers):
                self._tell(subscription, "DISCONNECTED", "connection to Redis lost: events may be missed")

    async def _drop_connection(self) -> None:
        async with self._lock:
            pubsub, self._pubsub = self._pubsub, None
            self._subscribed = set()
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except Exception:  # noqa: BLE001 - it is broken already
                log.debug("events: closing the broken pub/sub connection failed", exc_info=True)
