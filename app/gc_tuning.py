"""The cyclic garbage collector, tuned for a server that holds many long-lived WebSockets.

A full collection walks every tracked object; with a thousand subscribers connected it stalls the event
loop (and every delivery with it) for ~200 ms. After start-up everything loaded so far (modules, schema,
pools) is frozen out of collections for good, young collections run less often, and full ones far apart.
Cyclic garbage (e.g. a closed connection's state) is still collected, later; reference-counted garbage is
freed at once as always. `taskboard_gc_pause_seconds` and a warning per pause over 50 ms show the effect.
"""

from __future__ import annotations

import gc

from app.metrics import install_gc_observer

# gen0 collections after 50,000 net new objects (default 700); gen1 every 20 of them; gen2 considered every
# 10 gen1 collections (and, as always, only once the long-lived objects grew by a quarter).
THRESHOLDS = (50_000, 20, 10)


def tune_for_serving() -> None:
    """Freeze what start-up loaded, raise the thresholds, and time every collection from now on."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    install_gc_observer()
