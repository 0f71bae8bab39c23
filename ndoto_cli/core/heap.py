"""What a long-running process (``ndoto serve``, ``ndoto worker``, the console) holds for its whole
life, set aside from the garbage collector once it has started.

Why: such a process holds some 160,000 objects once its modules are imported and its first
requests or screen are done (classes, functions, SQLAlchemy's and pydantic's tables). CPython's
oldest generation is collected whenever enough new objects have survived, and each of those
collections walks every one of them: 50-75 ms on this 2-core machine, a stall in the middle of
whatever the process was doing. Measured on ``benchmarks/flow.py`` (a customer's message to the
bot's stored reply at 100 conversations a second): six such pauses in 20 s made the p99 106 ms;
with the start-up objects frozen the oldest collections walk only what came since (~11 ms) and
the p99 was 43 ms. Garbage that a frozen object later becomes part of is not collected while
frozen, which is why only what lives as long as the process is set aside, once, after a full
collection, and given back when the process (or a test's app) is done.
"""

from __future__ import annotations

import gc


def set_aside() -> None:
    """Collect once, then freeze every object alive now (``gc.freeze``)."""
    gc.collect()
    gc.freeze()


def give_back() -> None:
    """Make the frozen objects collectable again (the app is gone; a process may run another)."""
    gc.unfreeze()
