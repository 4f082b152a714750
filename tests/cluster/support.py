"""A throwaway Redis Cluster for tests that kill nodes: started by `scripts/services up redis-cluster` itself."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from redis import RedisCluster as SyncRedisCluster

from tests.support.processes import ROOT, free_port

MASTERS = 3


@dataclass
class ThrowawayCluster:
    url: str
    base_port: int
    env: dict[str, str]
    state: Path

    def up(self) -> None:
        """`scripts/services up redis-cluster`: starts what is down and waits until cluster_state is ok."""
        subprocess.run([str(ROOT / "scripts" / "services"), "up", "redis-cluster"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, timeout=120)

    def port_serving(self, key: str) -> int:
        """The port of the primary whose slots hold `key`."""
        with SyncRedisCluster.from_url(self.url) as cluster:
            return int(cluster.get_node_from_key(key).port)

    def kill(self, port: int) -> None:
        """SIGKILL one node (its nodes.conf stays: `up` brings it back with its slots)."""
        os.kill(int((self.state / "redis-cluster" / str(port) / "redis.pid").read_text().strip()), signal.SIGKILL)


def _free_base() -> int:
    """A port p with p..p+2 and their cluster-bus ports (+10000) free (cluster bus ports must stay < 65536)."""
    for _ in range(100):
        base = free_port()
        ports = [base + n for n in range(MASTERS)]
        if ports[-1] + 10000 > 65535:
            continue
        if not any(_taken(port) for port in [*ports, *(port + 10000 for port in ports)]):
            return base
    raise RuntimeError("no free ports for a throwaway cluster")


def _taken(port: int) -> bool:
    """Whether Redis could not bind the port: something listens there, or a connection uses it as its local port
    (the machine's ephemeral range includes these ports; connecting to them would not show that)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@contextmanager
def throwaway_cluster() -> Iterator[ThrowawayCluster]:
    base = _free_base()
    state = Path(tempfile.mkdtemp(prefix="taskboard-cluster-"))
    env = {**os.environ, "TASKBOARD_REDIS_CLUSTER_PORT": str(base), "TASKBOARD_STATE_DIR": str(state)}
    cluster = ThrowawayCluster(f"redis://127.0.0.1:{base}/0", base, env, state)
    try:
        cluster.up()
        yield cluster
    finally:
        subprocess.run([str(ROOT / "scripts" / "services"), "down", "redis-cluster"], env=env, check=False,
                       stdout=subprocess.DEVNULL, timeout=60)
        for port in range(base, base + MASTERS):  # in case `down` could not reach one
            pidfile = state / "redis-cluster" / str(port) / "redis.pid"
            if pidfile.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
        shutil.rmtree(state, ignore_errors=True)
