"""A stand-in for Core Lightning at its JSON-RPC boundary: `serve()` and `peerwatt lnsim`."""

from lnsim.server import build_network, main, serve

__all__ = ["build_network", "main", "serve"]
