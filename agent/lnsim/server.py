"""`peerwatt lnsim`: N simulated Core Lightning nodes on unix sockets, one shared graph."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import signal
import sys
from pathlib import Path

from agent.lnsim.graph import FeePolicy
from agent.lnsim.methods import dispatch
from agent.lnsim.network import DEFAULT_CHANNEL_SAT, LSP_NAME, Network, SimNode
from agent.lnsim.rpc import RpcServer

SOCKET_NAME = "lightning-rpc"
MAX_UNIX_PATH = 107  # sun_path is 108 bytes including the terminating NUL
TOPOLOGIES = ("hub", "mesh")


def build_network(
    names: list[str], topology: str = "hub", seed: int = 0,
    channel_sat: int = DEFAULT_CHANNEL_SAT,
) -> Network:
    """Homes named `names` (plus a routing node "lsp" for `hub`), channels split half/half."""
    if topology not in TOPOLOGIES:
        raise ValueError(f"topology must be one of {TOPOLOGIES}, got {topology!r}")
    if not names or len(set(names)) != len(names):
        raise ValueError(f"node names must be non-empty and unique, got {names}")
    if topology == "hub" and LSP_NAME in names:
        raise ValueError(f"{LSP_NAME!r} is the hub's own name")
    net = Network()
    homes = [net.add_node(name, seed) for name in names]
    capacity_msat = channel_sat * 1000
    if topology == "hub":
        lsp = net.add_node(LSP_NAME, seed)
        for home in homes:
            net.graph.add_channel(lsp.id, home.id, capacity_msat,
                                  policy_a=FeePolicy(), policy_b=FeePolicy())
    else:
        for i, a in enumerate(homes):
            for b in homes[i + 1:]:
                net.graph.add_channel(a.id, b.id, capacity_msat)
    return net


def _socket_path(directory: Path, node: SimNode) -> Path:
    path = directory / node.name / SOCKET_NAME
    if len(os.fsencode(path)) > MAX_UNIX_PATH:
        raise ValueError(f"unix socket path too long ({len(os.fsencode(path))} > "
                         f"{MAX_UNIX_PATH} bytes): {path}; use a shorter --dir")
    return path


def _prepare_dirs(dir: Path, net: Network) -> tuple[Path, dict[str, Path]]:
    directory = Path(os.path.abspath(dir))
    paths = {n.name: _socket_path(directory, n) for n in net.nodes.values()}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    return directory, paths


def _write_nodes_json(directory: Path, net: Network, servers: dict[str, RpcServer]) -> None:
    entries = [{"name": n.name, "id": n.id, "rpc": str(servers[n.name].path),
                "role": "lsp" if n.name == LSP_NAME else "home"} for n in net.nodes.values()]
    tmp = directory / "nodes.json.tmp"
    tmp.write_text(json.dumps(entries, indent=2) + "\n")
    os.replace(tmp, directory / "nodes.json")


async def serve(
    dir: Path, names: list[str], topology: str = "hub", seed: int = 0,
    ready: asyncio.Event | None = None, *, channel_sat: int = DEFAULT_CHANNEL_SAT,
) -> None:
    """Serve every node until cancelled; the sockets are removed on the way out."""
    net = build_network(names, topology, seed, channel_sat)
    directory, paths = _prepare_dirs(dir, net)
    servers: dict[str, RpcServer] = {}

    async def on_offline(node: SimNode, offline: bool) -> None:
        if offline:
            servers[node.name].stop_listening()
        else:
            await servers[node.name].start()

    net.on_offline = on_offline
    try:
        for node in net.nodes.values():
            server = RpcServer(paths[node.name], functools.partial(dispatch, net, node))
            servers[node.name] = server
            await server.start()
        _write_nodes_json(directory, net, servers)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        net.cancel_inflight()
        for server in servers.values():
            await server.close()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="peerwatt lnsim", description=__doc__)
    who = ap.add_mutually_exclusive_group()
    who.add_argument("--nodes", type=int, default=2, help="homes home-000.. (default 2)")
    who.add_argument("--names", help="comma-separated home names instead of --nodes")
    ap.add_argument("--dir", required=True, type=Path, help="where sockets and nodes.json go")
    ap.add_argument("--topology", choices=TOPOLOGIES, default="hub")
    ap.add_argument("--seed", type=int, default=0, help="node keys derive from seed + name")
    ap.add_argument("--channel-sat", type=int, default=DEFAULT_CHANNEL_SAT)
    return ap.parse_args(argv)


async def _run(args: argparse.Namespace, names: list[str]) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    ready = asyncio.Event()

    async def announce() -> None:
        await ready.wait()
        print(f"lnsim ready: {args.dir / 'nodes.json'}", file=sys.stderr, flush=True)

    waiter = asyncio.create_task(announce())
    try:
        await serve(args.dir, names, args.topology, args.seed, ready,
                    channel_sat=args.channel_sat)
    finally:
        waiter.cancel()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    names: list[str] = ([n.strip() for n in args.names.split(",") if n.strip()] if args.names
                        else [f"home-{i:03d}" for i in range(args.nodes)])
    try:
        asyncio.run(_run(args, names))
    except asyncio.CancelledError:
        return 0
    except ValueError as exc:
        print(f"lnsim: {exc}", file=sys.stderr)
        return 2
    return 0
