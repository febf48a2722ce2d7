"""BOLT11 encode and decode per invoice: agent/crypto/bolt11.py beside the `bolt11` package
(2.2.0) and pyln-proto, on the invoices lnsim writes for a trade.

    python -m bench.bolt11 --json bench/results/bolt11.json

Each codec encodes and decodes the same kind of invoice (payment secret, features,
description, expiry, `c`; random hash and secret each time), one after another on one
thread: `--n` calls a run, `--runs` runs; the median and p99 of the per-call times over all
runs, and the median of the per-run means. Times are the thread's CPU time
(`time.thread_time`), so a busy shared machine preempting the process does not count; it
still slows caches. pyln-proto cannot write `s` or `9`, so it encodes without them and
decodes ours. Quoted, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import bolt11 as ref
import coincurve
from bolt11.models.features import Feature, Features, FeatureState
from bolt11.models.tags import TagChar, Tags
from pyln.proto.invoice import Invoice as PylnInvoice

from agent.crypto import bolt11

KEY = coincurve.PrivateKey(b"\x07" * 32)
DESCRIPTION = "peerwatt trade 3f2a9c1d: 420 Wh at 222222 msat/kWh, interval 2026-12-03T11:15"
AMOUNT_MSAT = 93_333


def _ours_encode() -> str:
    return bolt11.encode(KEY, currency="bcrt", amount_msat=AMOUNT_MSAT,
                         timestamp=int(time.time()), payment_hash=os.urandom(32),
                         payment_secret=os.urandom(32), description=DESCRIPTION, expiry_s=600,
                         min_final_cltv_expiry=10)


def _ref_encode() -> str:
    tags = Tags()
    tags.add(TagChar.payment_secret, os.urandom(32).hex())
    tags.add(TagChar.payment_hash, os.urandom(32).hex())
    tags.add(TagChar.description, DESCRIPTION)
    tags.add(TagChar.expire_time, 600)
    tags.add(TagChar.min_final_cltv_expiry, 10)
    tags.add(TagChar.features, Features.from_feature_list({
        Feature.var_onion_optin: FeatureState.required,
        Feature.payment_secret: FeatureState.required,
        Feature.basic_mpp: FeatureState.supported,
        Feature.option_route_blinding: FeatureState.supported}))
    inv = ref.Bolt11(currency="bcrt", date=int(time.time()), tags=tags,
                     amount_msat=ref.MilliSatoshi(AMOUNT_MSAT))
    return str(ref.encode(inv, KEY.secret.hex()))


def _pyln_encode() -> str:
    inv = PylnInvoice(paymenthash=os.urandom(32), amount=Decimal(AMOUNT_MSAT) / 10**11,
                      currency="bcrt", tags=[("d", DESCRIPTION), ("x", 600)],
                      date=int(time.time()))
    return str(inv.encode(KEY.secret.hex()))


def _time(fn: Callable[[], object], n: int, runs: int) -> dict[str, Any]:
    fn()  # warm caches and imports
    per_call: list[float] = []
    run_means: list[float] = []
    for _ in range(runs):
        times = []
        for _ in range(n):
            t0 = time.thread_time()
            fn()
            times.append(time.thread_time() - t0)
        per_call += times
        run_means.append(statistics.fmean(times))
    per_call.sort()
    return {"median_us": round(statistics.median(per_call) * 1e6, 1),
            "p99_us": round(per_call[int(len(per_call) * 0.99) - 1] * 1e6, 1),
            "run_mean_us_median": round(statistics.median(run_means) * 1e6, 1),
            "calls": len(per_call)}


def run(n: int, runs: int) -> dict[str, Any]:
    ours = [_ours_encode() for _ in range(n)]
    it = iter(ours * (runs + 1))
    sample = ours[0]
    return {
        "what": "per-invoice thread CPU time, see bench/bolt11.py",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "invoice_chars": len(sample),
        "ours": {"encode": _time(_ours_encode, n, runs),
                 "decode": _time(lambda: bolt11.decode(next(it)), n, runs)},
        "bolt11_2.2.0": {"encode": _time(_ref_encode, n // 10, runs),
                         "decode_strict": _time(lambda: ref.decode(sample, strict=True),
                                                n // 10, runs)},
        "pyln_proto": {"encode_without_s_and_9": _time(_pyln_encode, n // 10, runs),
                       "decode": _time(lambda: PylnInvoice.decode(sample), n // 10, runs)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="calls per run (libraries: n/10)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out = run(args.n, args.runs)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
