"""The settlement scenarios of tests/cln_scenarios.py on two real lightningd nodes (regtest,
a funded channel l1 -> l2), as they run on lnsim in tests/lnsim/test_lnsim_scenarios.py;
the agent's own adapter (ClnNode, ClnChannels) against them; and one splice."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import pytest
from cln_scenarios import HOLD_SCENARIOS, RESTART_SCENARIOS, SCENARIOS, Pair, Restart
from pyln.client import LightningRpc

from agent.adapters.cln.channels import ClnChannels
from agent.adapters.cln.node import ClnNode

# The holdinvoice plugin is a separate binary (daywalker90/holdinvoice, Rust).
HOLDINVOICE_PLUGIN = os.environ.get("PEERWATT_HOLDINVOICE_PLUGIN", "")


@pytest.fixture
def pair(node_factory: Any) -> Pair:
    l1, l2 = node_factory.line_graph(2, wait_for_announce=True)
    return (l1.rpc, l2.rpc)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_scenario_on_lightningd(pair: Pair, scenario: Callable[[Pair], None]) -> None:
    scenario(pair)


@pytest.mark.parametrize("scenario", RESTART_SCENARIOS, ids=lambda f: f.__name__)
def test_restart_scenario_on_lightningd(node_factory: Any,
                                        scenario: Callable[[Pair, Restart], None]) -> None:
    l1, l2 = node_factory.line_graph(2, wait_for_announce=True,
                                     opts=[{"may_fail": True, "may_reconnect": True},
                                           {"may_reconnect": True}])

    def restart() -> LightningRpc:
        l1.daemon.kill()  # SIGKILL
        l1.start()
        return l1.rpc  # type: ignore[no-any-return]

    scenario((l1.rpc, l2.rpc), restart)


@pytest.mark.skipif(not os.path.isfile(HOLDINVOICE_PLUGIN),
                    reason="set PEERWATT_HOLDINVOICE_PLUGIN to the holdinvoice plugin binary "
                           "(Rust; not buildable here: no crates registry)")
@pytest.mark.parametrize("scenario", HOLD_SCENARIOS, ids=lambda f: f.__name__)
def test_hold_scenario_on_lightningd(node_factory: Any,
                                     scenario: Callable[[Pair], None]) -> None:
    l1, l2 = node_factory.line_graph(2, wait_for_announce=True,
                                     opts={"important-plugin": HOLDINVOICE_PLUGIN})
    scenario((l1.rpc, l2.rpc))


def test_the_agents_adapter_on_lightningd(node_factory: Any) -> None:
    """ClnNode as the daemon uses it: invoice, pay, reconcile, a second pay of the same
    invoice reported complete (219 checked against listsendpays), the label clash."""
    l1, l2 = node_factory.line_graph(2, wait_for_announce=True)
    buyer, seller = ClnNode(l1.rpc.socket_path), ClnNode(l2.rpc.socket_path)

    async def run() -> None:
        assert await seller.node_id() == l2.info["id"]
        inv = await seller.create_invoice("peerwatt-t1", 50_000, "trade t1", 600)
        again = await seller.create_invoice("peerwatt-t1", 50_000, "trade t1", 600)
        assert again == inv
        assert await seller.invoice_status("peerwatt-t1") == "unpaid"
        assert await buyer.payment_status(inv.payment_hash) is None
        out = await buyer.pay(inv.bolt11, 5000)
        assert out.status == "complete"
        assert out.amount_sent_msat is not None
        assert out.amount_sent_msat >= 50_000
        assert await seller.invoice_status("peerwatt-t1") == "paid"
        known = await buyer.payment_status(inv.payment_hash)
        assert known is not None
        assert (known.status, known.preimage) == ("complete", out.preimage)
        twice = await buyer.pay(inv.bolt11, 5000)
        assert (twice.status, twice.preimage) == ("complete", out.preimage)
        assert await seller.has_hold_invoices() is False

    asyncio.run(run())


def test_one_splice_in_on_lightningd(node_factory: Any, bitcoind: Any) -> None:
    """`splicein` through ClnChannels (splicing is on by default since v25.12): the
    channel grows by the amount once the splice confirms."""
    l1, _ = node_factory.line_graph(2, fundamount=1_000_000, wait_for_announce=True)
    channels = ClnChannels(ClnNode(l1.rpc.socket_path))

    async def before() -> tuple[str, int, int]:
        (chan,) = await channels.channels()
        return chan.scid, chan.capacity_msat, await channels.wallet_msat()

    scid, capacity, wallet = asyncio.run(before())
    assert wallet >= 100_000_000
    txid = asyncio.run(channels.splice(scid, 100_000_000))
    assert len(txid) == 64
    bitcoind.generate_block(6, wait_for_mempool=txid)
    l1.daemon.wait_for_log(r"splice_locked clearing inflights")

    from pyln.testing.utils import wait_for  # here: the module imports without pyln-testing

    def grown() -> bool:
        (chan,) = l1.rpc.listpeerchannels()["channels"]
        return int(chan["total_msat"]) == capacity + 100_000_000 and "inflight" not in chan

    wait_for(grown)


def test_listconfigs_subdaemon_shape(node_factory: Any) -> None:
    """lnsim answers listconfigs with this shape; check it is lightningd's (no VLS here)."""
    (node,) = node_factory.get_nodes(1)
    configs = node.rpc.listconfigs()["configs"]
    assert configs["network"]["value_str"] == "regtest"
    assert "subdaemon" not in configs or "values_str" in configs["subdaemon"]
