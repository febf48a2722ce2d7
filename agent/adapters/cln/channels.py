"""The node's channels and on-chain wallet, and splicing, through Core Lightning's RPC.

`splicein`/`spliceout` on current nodes, naming the channel by its channel_id (their
splice script reads a short_channel_id as an amount: "Splice script compile failed", seen
on lightningd v26.06); on older ones (no such command, -32601) the `splice_init` →
`splice_update` (until the commitments are secured) → `splice_signed` sequence. What a
splice costs on-chain comes from `feerates` (agent/domain/onchain.py). With a VLS signer
a splice needs the signer's support; a refusal surfaces as an RPC error and is reported as
PaymentRefused (never retried by the liquidity service).
"""

from __future__ import annotations

import secrets

from pyln.client import RpcError

from agent.adapters.cln import errors as errs
from agent.adapters.cln.node import ClnNode, _code, _message
from agent.domain import onchain
from agent.domain.liquidity import ChannelState
from agent.ports import PaymentRefused

MAX_SPLICE_UPDATES = 10


class ClnChannels:
    def __init__(self, node: ClnNode) -> None:
        self._node = node
        self._channel_ids: dict[str, str] = {}  # scid -> channel_id (splice_* want it)

    async def channels(self) -> list[ChannelState]:
        """Channels in normal operation (listpeerchannels)."""
        res = await self._node._call("listpeerchannels", {})
        out = []
        for c in res["channels"]:
            if c.get("state") != "CHANNELD_NORMAL" or "short_channel_id" not in c:
                continue
            self._channel_ids[c["short_channel_id"]] = str(c["channel_id"])
            out.append(ChannelState(str(c["short_channel_id"]), str(c["peer_id"]),
                                    int(c["total_msat"]), int(c["spendable_msat"]),
                                    int(c["receivable_msat"])))
        return out

    async def wallet_msat(self) -> int:
        """Confirmed, unreserved on-chain funds (listfunds)."""
        res = await self._node._call("listfunds", {})
        return sum(int(o["amount_msat"]) for o in res["outputs"]
                   if o.get("status") == "confirmed" and not o.get("reserved"))

    async def splice(self, scid: str, delta_msat: int) -> str:
        """Move `delta_msat` (whole sats) into (+) or out of (−) channel `scid`; the txid."""
        sats = abs(delta_msat) // 1000
        if sats == 0:
            raise ValueError("a splice moves at least 1 sat")
        method = "splicein" if delta_msat > 0 else "spliceout"
        channel_id = await self._channel_id(scid)
        try:
            res = await self._node._call(method, {"channel": channel_id, "amount": sats})
        except RpcError as exc:
            if _code(exc) != errs.METHOD_NOT_FOUND:
                raise PaymentRefused(f"{method} {scid} {sats}sat: {_message(exc)}") from exc
            return await self._splice_sequence(scid, sats if delta_msat > 0 else -sats)
        return str(res["txid"])

    async def rebalance(self, from_scid: str, to_scid: str, amount_msat: int,
                        max_fee_msat: int) -> int:
        """Circular payment to ourselves: out through `from_scid`, back in through
        `to_scid`; the fee paid (msat). The route is built by hand, as CLN wants for a
        payment to its own invoice: `getroute` from the first peer back to us, and the
        first peer's forwarding fee learnt from a `getroute` of ours through it."""
        me = await self._node.node_id()
        peers = {c.scid: c.peer_id for c in await self.channels()}
        if from_scid not in peers or to_scid not in peers or from_scid == to_scid:
            raise PaymentRefused(f"rebalance {from_scid} -> {to_scid}: not two channels of ours")
        others = [f"{scid}/{d}" for scid in peers if scid not in (from_scid, to_scid)
                  for d in (0, 1)]
        try:
            back = (await self._node._call("getroute", {
                "id": me, "fromid": peers[from_scid], "amount_msat": amount_msat,
                "riskfactor": 1, "exclude": [f"{from_scid}/0", f"{from_scid}/1", *others]}))[
                "route"]
            first = (await self._node._call("getroute", {
                "id": back[0]["id"], "amount_msat": back[0]["amount_msat"], "riskfactor": 1,
                "exclude": [f"{to_scid}/0", f"{to_scid}/1", *others]}))["route"]
        except RpcError as exc:
            raise PaymentRefused(f"rebalance: no circular route: {_message(exc)}") from exc
        if (back[-1]["channel"] != to_scid or len(first) != 2 or first[0]["channel"] != from_scid
                or first[1]["channel"] != back[0]["channel"]):
            raise PaymentRefused("rebalance: no circular route through the two channels")
        route = [first[0], *back]
        fee = int(route[0]["amount_msat"]) - amount_msat
        if fee > max_fee_msat:
            raise PaymentRefused(f"rebalance: fee {fee} msat over the budget {max_fee_msat}")
        try:
            inv = await self._node._call("invoice", {
                "amount_msat": amount_msat, "label": f"peerwatt-rebalance-{secrets.token_hex(8)}",
                "description": "peerwatt rebalance", "expiry": 600})
            pay: dict[str, object] = {"route": route, "payment_hash": inv["payment_hash"],
                                      "amount_msat": amount_msat}
            if inv.get("payment_secret"):
                pay["payment_secret"] = inv["payment_secret"]
            await self._node._call("sendpay", pay)
            await self._node._call("waitsendpay", {"payment_hash": inv["payment_hash"],
                                                   "timeout": 60}, 70.0)
        except RpcError as exc:
            raise PaymentRefused(f"rebalance failed: {_message(exc)}") from exc
        return fee

    async def splice_fee_sat(self) -> int | None:
        """What one splice costs on-chain now: the node's `splice` feerate (sat per 1000
        weight) times a splice's weight; None where the node gives no rate."""
        try:
            res = await self._node._call("feerates", {"style": "perkw"})
        except RpcError:
            return None
        rates = res.get("perkw", {})
        rate = rates.get("splice", rates.get("opening"))
        return None if rate is None else onchain.splice_fee_sat(int(rate))

    async def _channel_id(self, scid: str) -> str:
        if scid not in self._channel_ids:
            await self.channels()
        channel_id = self._channel_ids.get(scid)
        if channel_id is None:
            raise PaymentRefused(f"splice {scid}: no such channel")
        return channel_id

    async def _splice_sequence(self, scid: str, relative_sat: int) -> str:
        channel_id = await self._channel_id(scid)
        try:
            psbt = (await self._node._call("splice_init", {
                "channel_id": channel_id, "relative_amount": relative_sat}))["psbt"]
            for _ in range(MAX_SPLICE_UPDATES):
                upd = await self._node._call("splice_update", {"channel_id": channel_id,
                                                               "psbt": psbt})
                psbt = upd["psbt"]
                if upd.get("commitments_secured"):
                    break
            else:
                raise PaymentRefused(f"splice {scid}: commitments never secured")
            res = await self._node._call("splice_signed", {"channel_id": channel_id,
                                                           "psbt": psbt})
        except RpcError as exc:
            raise PaymentRefused(f"splice {scid} {relative_sat}sat: {_message(exc)}") from exc
        return str(res["txid"])
