"""pyln-client's `LightningRpc` with a deadline on its socket.

pyln opens one unix socket per call and reads the answer with a plain blocking `recv`
that has no timeout. Callers run it in a thread under `asyncio.timeout`, which frees the
caller but not the thread: against a node that accepted the request and never answers,
the thread stays in `recv` for good, and the event loop's shutdown (which joins its
executor's threads) waits with it — the daemon could not exit. Here the socket carries
the deadline itself: `recv` raises `TimeoutError` (an `OSError`) once `timeout_s` pass
with nothing read, so the thread ends with the caller's deadline.

The hook is pyln's `_writeobj(sock, obj)`, which every call passes its fresh socket to
before it reads anything.
"""

from __future__ import annotations

from typing import Any

from pyln.client import LightningRpc


class DeadlineRpc(LightningRpc):  # type: ignore[misc]  # pyln-client has no type hints
    """A `LightningRpc` whose every read waits at most `timeout_s` for the node."""

    def __init__(self, socket_path: str, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        super().__init__(socket_path)
        self.timeout_s = timeout_s

    def _writeobj(self, sock: Any, obj: Any) -> None:
        raw = getattr(sock, "sock", None)
        if raw is not None:
            raw.settimeout(self.timeout_s)
        super()._writeobj(sock, obj)
