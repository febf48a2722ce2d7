"""lnsim restarts keep channels, invoices and payments; a payment in flight resolves after."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lnsim_harness import Lnsim, start_lnsim, wait_xpay
from pyln.client import LightningRpc, RpcError
from test_lnsim_hold import hold, pay_in_background, wait_state

from lnsim import main

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["alice", "bob", "carol"]


def total_msat(ln: Lnsim) -> int:
    """Money in the graph, counted once per channel (from the lower-named side)."""
    seen: dict[str, int] = {}
    for name in ln.nodes:
        for c in ln.rpc(name).listpeerchannels()["channels"]:
            seen[c["short_channel_id"]] = int(c["total_msat"])
    return sum(seen.values())


def wait_complete(rpc: LightningRpc, payment_hash: str) -> dict[str, Any]:
    return dict(wait_xpay(rpc, payment_hash, timeout=10))


def test_hold_payment_in_flight_survives_a_restart_and_settles_after(
    lnsim_factory: Callable[..., Lnsim],
) -> None:
    ln = lnsim_factory(NAMES)
    inv = hold(ln, "across", amount_msat=70_000)
    ln.rpc("bob").invoice(1000, "plain-before", "d")
    worker, out = pay_in_background(ln.rpc("alice"), inv["bolt11"])
    wait_state(ln.rpc("bob"), inv["payment_hash"], "ACCEPTED")
    capacity = total_msat(ln)
    ln.stop()
    worker.join(30)
    assert out
    assert isinstance(out[0], RpcError)  # the connection went away mid-call

    again = lnsim_factory(NAMES, directory=ln.dir)
    alice, bob = again.rpc("alice"), again.rpc("bob")
    (part,) = alice.listsendpays(payment_hash=inv["payment_hash"])["payments"]
    assert part["status"] == "pending"
    (chan,) = alice.listpeerchannels()["channels"]
    assert chan["in_flight_msat"] == part["amount_sent_msat"]
    assert bob.call("holdinvoicelookup", {"payment_hash": inv["payment_hash"]})["state"] == (
        "ACCEPTED")
    with pytest.raises(RpcError) as clash:  # invoices were kept
        bob.invoice(1000, "plain-before", "d")
    assert clash.value.error["code"] == 900

    bob.call("holdinvoicesettle", {"payment_hash": inv["payment_hash"]})
    done = wait_complete(alice, inv["payment_hash"])
    assert done["status"] == "complete"
    assert bob.listinvoices("across")["invoices"][0]["status"] == "paid"
    assert total_msat(again) == capacity
    (after,) = alice.listpeerchannels()["channels"]
    assert after["in_flight_msat"] == 0


def test_delayed_payment_cut_by_a_restart_completes_after_it(
    lnsim_factory: Callable[..., Lnsim],
) -> None:
    ln = lnsim_factory(NAMES)
    ln.rpc("alice").call("dev-lnsim-delay-payments", {"delay_s": 30})
    inv = ln.rpc("bob").invoice(20_000, "slow", "d")
    worker, _ = pay_in_background(ln.rpc("alice"), inv["bolt11"])
    deadline = time.monotonic() + 30
    while not ln.rpc("alice").listsendpays()["payments"]:  # the payment is out
        assert time.monotonic() < deadline, "the payment never started"
        time.sleep(0.02)
    ln.stop()
    worker.join(30)
    again = lnsim_factory(NAMES, directory=ln.dir)
    done = wait_complete(again.rpc("alice"), inv["payment_hash"])
    assert done["payment_preimage"]
    with pytest.raises(RpcError) as paid:
        again.rpc("alice").xpay(inv["bolt11"])
    assert paid.value.error["code"] == 219


def test_other_nodes_or_seed_are_refused_and_fresh_starts_over(
    lnsim_factory: Callable[..., Lnsim],
) -> None:
    ln = lnsim_factory(NAMES)
    ln.rpc("bob").invoice(1000, "kept", "d")
    ln.stop()
    assert main(["--names", "alice,bob", "--dir", str(ln.dir)]) == 2
    assert main(["--names", "alice,bob,carol", "--seed", "7", "--dir", str(ln.dir)]) == 2
    kept = lnsim_factory(NAMES, directory=ln.dir)
    assert kept.rpc("bob").listinvoices("kept")["invoices"]  # same DIR: kept
    kept.stop()
    fresh = lnsim_factory(NAMES, directory=ln.dir, fresh=True)
    assert fresh.rpc("bob").listinvoices("kept")["invoices"] == []
    fresh.stop()
    (ln.dir / "lnsim.sqlite3").write_bytes(b"not a database at all" * 100)
    for suffix in ("-wal", "-shm"):
        (ln.dir / f"lnsim.sqlite3{suffix}").unlink(missing_ok=True)
    assert main(["--names", "alice,bob,carol", "--dir", str(ln.dir)]) == 2


@pytest.fixture
def lnsim_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="lnk", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def spawn(directory: Path, *extra: str) -> subprocess.Popen[bytes]:
    (directory / "nodes.json").unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lnsim", "--names", "alice,bob", "--dir", str(directory),
         *extra], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not (directory / "nodes.json").exists():
        assert proc.poll() is None, "lnsim exited"
        assert time.monotonic() < deadline, "lnsim did not start"
        time.sleep(0.05)
    return proc


def test_sigkill_with_a_payment_in_flight_then_restart_resolves_it(lnsim_dir: Path) -> None:
    proc = spawn(lnsim_dir)
    try:
        nodes = {n["name"]: n["rpc"] for n in json.loads((lnsim_dir / "nodes.json").read_text())}
        alice, bob = LightningRpc(nodes["alice"]), LightningRpc(nodes["bob"])
        alice.call("dev-lnsim-delay-payments", {"delay_s": 60})
        inv = bob.invoice(30_000, "killed", "d")
        worker, _ = pay_in_background(alice, inv["bolt11"])
        deadline = time.monotonic() + 30
        while not alice.listsendpays()["payments"]:  # the payment is out
            assert time.monotonic() < deadline, "the payment never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        worker.join(30)
        proc = spawn(lnsim_dir)
        done = wait_xpay(LightningRpc(nodes["alice"]), inv["payment_hash"], timeout=10)
        assert done["status"] == "complete"
        assert LightningRpc(nodes["bob"]).listinvoices("killed")["invoices"][0]["status"] == (
            "paid")
    finally:
        proc.kill()
        proc.wait()


def test_harness_restart_helper_is_the_same_network(lnsim_dir: Path) -> None:
    first = start_lnsim(NAMES, directory=lnsim_dir)
    ids = {n: first.id(n) for n in NAMES}
    first.stop()
    second = start_lnsim(NAMES, directory=lnsim_dir)
    try:
        assert {n: second.id(n) for n in NAMES} == ids
    finally:
        second.stop()
