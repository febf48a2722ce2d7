"""The node's channels and on-chain wallet, and splicing, through Core Lightning's RPC.

`splicein`/`spliceout` on current nodes; on older ones (no such command, -32601) the
`splice_init` → `splice_update` (until the commitments are secured) → `splice_signed`
sequence. With a VLS signer a splice needs the signer's support; a refusal surfaces as an
RPC error and is reported as PaymentRefused (never retried by the liquidity service).
"""

from __future__ import annotations

from pyln.client import RpcError

from agent.adapters import cln_errors as errs
from agent.adapters.lightning import ClnNode, _code, _message
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
        try:
            res = await self._node._call(method, {"channel": scid, "amount": sats})
        except RpcError as exc:
            if _code(exc) != errs.METHOD_NOT_FOUND:
                raise PaymentRefused(f"{method} {scid} {sats}sat: {_message(exc)}") from exc
            return await self._splice_sequence(scid, sats if delta_msat > 0 else -sats)
        return str(res["txid"])

    async def _splice_sequence(self, scid: str, relative_sat: int) -> str:
        if scid not in self._channel_ids:
            await self.channels()
        channel_id = self._channel_ids.get(scid)
        if channel_id is None:
            raise PaymentRefused(f"splice {scid}: no such channel")
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
