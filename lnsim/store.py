"""The stand-in's state file, `DIR/lnsim.sqlite3`: channels, invoices and payments survive a
restart of `peerwatt lnsim`, and a payment in flight resumes (see `payments.resume_pending`).

Changed records are written in one transaction before the reply that follows the change
(`Network.flush`), as lightningd commits to its database before it answers.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from lnsim.graph import Channel, FeePolicy, Hop
from lnsim.invoices import InvoiceRecord
from lnsim.network import Network, NodeOptions, SendPay, SimNode

STATE_FILE = "lnsim.sqlite3"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS channels (scid TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invoices (node TEXT, label TEXT, body TEXT NOT NULL,
                                     PRIMARY KEY (node, label));
CREATE TABLE IF NOT EXISTS sendpays (node TEXT, created_index INTEGER, body TEXT NOT NULL,
                                     PRIMARY KEY (node, created_index));
"""
_INVOICE_FIELDS = ("label", "bolt11", "payment_hash", "payment_secret", "preimage",
                   "amount_msat", "description", "expires_at", "created_index", "pay_index",
                   "amount_received_msat", "paid_at", "updated_index", "hold_cltv",
                   "hold_state", "hold_htlc_expiry")
_SENDPAY_FIELDS = ("created_index", "payment_hash", "bolt11", "destination", "amount_msat",
                   "amount_sent_msat", "created_at", "status", "groupid", "partid", "label",
                   "completed_at", "preimage", "updated_index", "failure", "failure_code")


class StateFileError(Exception):
    """The state file cannot be used for this network (another seed, other nodes, damaged)."""


class SqliteState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StateFileError(f"{path}: not a usable lnsim state file: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM meta")}

    def write_meta(self, values: dict[str, Any]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                 [(k, json.dumps(v)) for k, v in values.items()])

    def write(self, net: Network, channels: list[Channel], nodes: list[SimNode],
              invoices: list[tuple[SimNode, InvoiceRecord]],
              sendpays: list[tuple[SimNode, SendPay]]) -> None:
        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT OR REPLACE INTO channels VALUES (?, ?)",
                                 [(c.scid, json.dumps(_channel_body(c))) for c in channels])
            self._db.executemany("INSERT OR REPLACE INTO nodes VALUES (?, ?)",
                                 [(n.name, json.dumps(_node_body(n))) for n in nodes])
            self._db.executemany(
                "INSERT OR REPLACE INTO invoices VALUES (?, ?, ?)",
                [(n.name, r.label, json.dumps({f: getattr(r, f) for f in _INVOICE_FIELDS}))
                 for n, r in invoices])
            self._db.executemany(
                "INSERT OR REPLACE INTO sendpays VALUES (?, ?, ?)",
                [(n.name, p.created_index, json.dumps(_sendpay_body(p))) for n, p in sendpays])
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('updated_index', ?)",
                             (json.dumps(net.updated_index),))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def save_all(self, net: Network) -> None:
        invoices = [(n, r) for n in net.nodes.values() for r in n.invoices.all()]
        sendpays = [(n, p) for n in net.nodes.values() for p in n.sendpays]
        self.write(net, list(net.graph.channels.values()), list(net.nodes.values()),
                   invoices, sendpays)

    def load(self, seed: int, options: NodeOptions, names: list[str]) -> Network:
        """The network as last saved; node keys derive from the saved seed and names."""
        meta = self.meta()
        if meta.get("names") != names:
            raise StateFileError(f"{self.path} holds nodes {meta.get('names')}, not {names}; "
                                 "use the same nodes or --fresh")
        if meta.get("schema") != SCHEMA_VERSION:
            raise StateFileError(f"{self.path}: schema {meta.get('schema')!r}, expected "
                                 f"{SCHEMA_VERSION}")
        if meta.get("seed") != seed:
            raise StateFileError(f"{self.path} was written with --seed {meta.get('seed')}, "
                                 f"not {seed}; use the same seed or --fresh")
        net = Network(options=options)
        for name in meta["names"]:
            net.add_node(name, seed)
        net.updated_index = int(meta.get("updated_index", 0))
        for name, body in self._db.execute("SELECT name, body FROM nodes"):
            node, data = net.nodes[name], json.loads(body)
            node.fees_collected_msat = int(data["fees_collected_msat"])
            node.wallet_msat = int(data["wallet_msat"])
        for (body,) in self._db.execute("SELECT body FROM channels ORDER BY rowid"):
            _restore_channel(net, json.loads(body))
        for name, body in self._db.execute("SELECT node, body FROM invoices ORDER BY rowid"):
            net.nodes[name].invoices.restore(InvoiceRecord(**json.loads(body)))
        for name, body in self._db.execute(
                "SELECT node, body FROM sendpays ORDER BY node, created_index"):
            net.nodes[name].sendpays.append(_restore_sendpay(json.loads(body)))
        return net


def _channel_body(c: Channel) -> dict[str, Any]:
    return {"scid": c.scid, "node_a": c.node_a, "node_b": c.node_b,
            "capacity_msat": c.capacity_msat, "balance_msat": c.balance_msat,
            "in_flight_msat": c.in_flight_msat,
            "policy": {k: [p.base_msat, p.ppm] for k, p in c.policy.items()}}


def _restore_channel(net: Network, d: dict[str, Any]) -> None:
    a, b = d["node_a"], d["node_b"]
    chan = net.graph.add_channel(a, b, d["capacity_msat"], a_share_msat=0, scid=d["scid"],
                                 policy_a=FeePolicy(*d["policy"][a]),
                                 policy_b=FeePolicy(*d["policy"][b]))
    chan.balance_msat = {k: int(v) for k, v in d["balance_msat"].items()}
    chan.in_flight_msat = {k: int(v) for k, v in d["in_flight_msat"].items()}


def _node_body(n: SimNode) -> dict[str, Any]:
    return {"fees_collected_msat": n.fees_collected_msat, "wallet_msat": n.wallet_msat}


def _sendpay_body(p: SendPay) -> dict[str, Any]:
    body = {f: getattr(p, f) for f in _SENDPAY_FIELDS}
    body["hops"] = [[h.scid, h.sender, h.receiver, h.amount_msat] for h in p.hops]
    return body


def _restore_sendpay(d: dict[str, Any]) -> SendPay:
    hops = tuple(Hop(s, a, b, int(m)) for s, a, b, m in d.pop("hops"))
    pay = SendPay(**d, hops=hops)
    if pay.status != "pending":
        pay.done.set()
    return pay
