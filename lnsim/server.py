"""`peerwatt lnsim`: N simulated Core Lightning nodes on unix sockets, one shared graph."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import sys
from pathlib import Path

import structlog

from lnsim.methods import METHODS, dispatch
from lnsim.network import (
    DEFAULT_CHANNEL_SAT,
    DEFAULT_HOLD_CANCEL_BEFORE_EXPIRY_S,
    LSP_NAME,
    Network,
    NodeOptions,
    SimNode,
)
from lnsim.payments import resume_pending
from lnsim.rpc import RpcServer
from lnsim.store import SCHEMA_VERSION, STATE_FILE, SqliteState, StateFileError
from lnsim.topology import TOPOLOGIES, build_network

SOCKET_NAME = "lightning-rpc"
MAX_UNIX_PATH = 107  # sun_path is 108 bytes including the terminating NUL
__all__ = ["TOPOLOGIES", "build_network", "main", "serve"]
_log = structlog.get_logger("lnsim")


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


def _open_state(directory: Path, fresh_net: Network, seed: int, topology: str,
                fresh: bool) -> tuple[Network, SqliteState]:
    """The saved network if DIR holds one for the same nodes, else `fresh_net` (saved)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / STATE_FILE
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
    existed = path.exists()
    state = SqliteState(path)
    try:
        if existed:
            net = state.load(seed, fresh_net.options, list(fresh_net.nodes))
            _log.info("lnsim_state_loaded", path=str(path), pending=sum(
                p.status == "pending" for n in net.nodes.values() for p in n.sendpays))
            return net, state
        state.write_meta({"schema": SCHEMA_VERSION, "seed": seed, "topology": topology,
                          "names": list(fresh_net.nodes)})
        state.save_all(fresh_net)
        return fresh_net, state
    except BaseException:
        state.close()
        raise


async def serve(
    dir: Path, names: list[str], topology: str = "star", seed: int = 0,
    ready: asyncio.Event | None = None, *, channel_sat: int = DEFAULT_CHANNEL_SAT,
    options: NodeOptions | None = None, fresh: bool = False,
) -> None:
    """Serve every node until cancelled; the sockets are removed on the way out.

    State (channels, invoices, payments) is kept in DIR/lnsim.sqlite3: serving the same
    DIR again resumes it, payments in flight included, unless `fresh`.
    """
    built = build_network(names, topology, seed, channel_sat, options)
    directory, paths = _prepare_dirs(dir, built)
    net, state = _open_state(directory, built, seed, topology, fresh)
    net.sink = state
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
        resume_pending(net)
        _write_nodes_json(directory, net, servers)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        net.cancel_inflight()
        for server in servers.values():
            await server.close()
        net.flush()
        state.close()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="peerwatt lnsim", description=__doc__)
    who = ap.add_mutually_exclusive_group()
    who.add_argument("--nodes", type=int, default=2, help="homes home-000.. (default 2)")
    who.add_argument("--names", help="comma-separated home names instead of --nodes")
    ap.add_argument("--dir", required=True, type=Path,
                    help="where the sockets, nodes.json and the state file lnsim.sqlite3 go")
    ap.add_argument("--topology", default="star",
                    help=f"{' | '.join(TOPOLOGIES)} | FILE (a JSON topology file; see "
                    "docs/lnsim.md); default star: every home has a channel to 'lsp'")
    ap.add_argument("--seed", type=int, default=0, help="node keys derive from seed + name")
    ap.add_argument("--channel-sat", type=int, default=DEFAULT_CHANNEL_SAT)
    ap.add_argument("--fresh", action="store_true",
                    help="discard DIR/lnsim.sqlite3 and start from the topology")
    ap.add_argument("--local-signer", action="store_true",
                    help="listconfigs reports a local hsmd (default: remote_hsmd_socket)")
    ap.add_argument("--disable", default="", metavar="METHODS",
                    help="comma-separated methods to answer 'Unknown command' (-32601), e.g. "
                    "xpay (an older node), holdinvoice (no plugin), splicein,spliceout")
    ap.add_argument("--holdinvoice-cancel-before-invoice-expiry", type=int,
                    default=DEFAULT_HOLD_CANCEL_BEFORE_EXPIRY_S, metavar="SECONDS",
                    help="as the holdinvoice plugin's option (default 1800)")
    ap.add_argument("--holdinvoice-at-expiry", choices=("settle", "cancel"), default="settle",
                    help="what happens to an ACCEPTED hold invoice at that margin: settle "
                    "(the plugin since v4.0.0, default) or cancel (v3)")
    return ap.parse_args(argv)


def options_from(args: argparse.Namespace) -> NodeOptions:
    disabled = {m.strip() for m in args.disable.split(",") if m.strip()}
    unknown = sorted(disabled - set(METHODS))
    if unknown:
        raise ValueError(f"--disable: unknown method(s) {', '.join(unknown)}")
    if "holdinvoice" in disabled:  # no plugin: none of its four methods
        disabled |= {"holdinvoicesettle", "holdinvoicecancel", "holdinvoicelookup"}
    return NodeOptions(remote_signer=not args.local_signer, disabled=frozenset(disabled),
                       hold_cancel_before_expiry_s=args.holdinvoice_cancel_before_invoice_expiry,
                       hold_at_soft_expiry="cancel" if args.holdinvoice_at_expiry == "cancel"
                       else "settle")


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
                    channel_sat=args.channel_sat, options=options_from(args), fresh=args.fresh)
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
    except (ValueError, StateFileError) as exc:
        print(f"lnsim: {exc}", file=sys.stderr)
        return 2
    return 0
