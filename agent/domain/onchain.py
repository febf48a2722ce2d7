"""When money should go on-chain at all: the fee arithmetic of docs/settlement.md.

Pure. A trade is a few hundred sat at most (1 kWh at 0.20 €/kWh and 90,000 €/BTC is 222
sat); the smallest on-chain payment (one P2WPKH input, a P2WPKH output and change) is
141 vbytes, 141 sat even at the 1 sat/vB relay floor. So no trade is ever paid on-chain:
a trade whose payment fails off-chain fails (the grid's tariff is the fallback for the
energy), and what the homes owe each other after delivery nets into the next invoice.
The chain is used only to move channel capital (splices), and only in amounts whose fee
is at most `max_fee_share` of what is moved.
"""

from __future__ import annotations

import math

# vbytes: 10.5 overhead + 68 per P2WPKH input + 31 per P2WPKH output (BIP 141 weights / 4)
TX_OVERHEAD_VBYTES = 10.5
P2WPKH_INPUT_VBYTES = 68.0
P2WPKH_OUTPUT_VBYTES = 31.0
PAYMENT_VBYTES = math.ceil(TX_OVERHEAD_VBYTES + P2WPKH_INPUT_VBYTES + 2 * P2WPKH_OUTPUT_VBYTES)
# A splice-in: the channel's 2-of-2 P2WSH input (384 WU with its witness), a wallet
# P2WPKH input (272), the new funding output (172), change (124) and 42 of overhead:
# 994 WU; a splice-out has no wallet input. Counted as 1000 WU.
SPLICE_WEIGHT = 1000
DEFAULT_MAX_FEE_SHARE = 0.01


def fee_sat(feerate_sat_per_vb: float, vbytes: float = PAYMENT_VBYTES) -> int:
    """The fee of a transaction of `vbytes` at `feerate_sat_per_vb`, rounded up."""
    if feerate_sat_per_vb < 0 or vbytes <= 0:
        raise ValueError(f"feerate {feerate_sat_per_vb} sat/vB, size {vbytes} vB")
    return math.ceil(feerate_sat_per_vb * vbytes)


def splice_fee_sat(feerate_perkw: int) -> int:
    """A splice's fee at lightningd's feerate in sat per 1000 weight units, rounded up."""
    return math.ceil(feerate_perkw * SPLICE_WEIGHT / 1000)


def min_amount_msat(onchain_fee_sat: int, max_fee_share: float = DEFAULT_MAX_FEE_SHARE) -> int:
    """The least amount worth moving on-chain for that fee: fee / share, in whole sat."""
    if not 0 < max_fee_share <= 1:
        raise ValueError(f"max_fee_share {max_fee_share} is not in (0, 1]")
    sat = math.ceil(onchain_fee_sat / max_fee_share - 1e-9)   # 2835 / 0.7 is 4050.0000…1
    while fee_share(sat * 1000, onchain_fee_sat) > max_fee_share:
        sat += 1
    return max(sat, 1) * 1000


def fee_share(amount_msat: int, onchain_fee_sat: int) -> float:
    """The on-chain fee as a share of the amount it moves (inf for nothing)."""
    return math.inf if amount_msat <= 0 else onchain_fee_sat * 1000 / amount_msat
