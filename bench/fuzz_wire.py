"""Fuzz the wire decoder: N inputs, zero crashes allowed.

    python -m bench.fuzz_wire --n 100000 --json bench/results/fuzz_wire.json

Inputs are valid messages of every type mutated at random (bit flips, byte insertions
and deletions, truncation, field values replaced by random JSON, keys renamed or
dropped), random bytes, and random JSON documents. Every input is decoded as every
message type; anything raised other than `WireError` is a crash.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import traceback
from typing import Any

from agent.wire import (
    Binding,
    MoveMsg,
    Presence,
    RosterEntry,
    Signal,
    StateReport,
    WireError,
    decode,
    encode,
)

NODE = "02" + "ab" * 32
SEEDS: list[Any] = [
    MoveMsg(kind="counter", trade_id="ab" * 16, interval=1_900_000, sender="home-1",
            receiver="home-2", round=1, energy_wh=420, price_msat_per_kwh=250_000,
            deadline_s=1.7e9, node_id=NODE, sent_s=1.7e9, seq=12, sig="cd" * 64),
    StateReport(agent_id="home-1", node_id=NODE, interval=5, soc_pct=50.0, battery_wh=5000.0,
                battery_max_w=2500.0, forecast_mean_kw=[0.5] * 96, forecast_std_kw=[0.1] * 96),
    Signal(seq=3, interval=5, interval_s=900, price_msat_per_kwh=[200_000] * 96,
           net_load_kw=[1.0] * 96, net_load_std_kw=[0.2] * 96, agents=2,
           roster=[RosterEntry(agent_id="home-1", node_id=NODE)], residual=0.0, issued_s=1.0),
    Binding(community="c", agent_id="home-1", node_id=NODE, pubkey="ef" * 32, zbase="y" * 104),
    Presence(agent_id="home-1", online=True),
]
MODELS = (MoveMsg, StateReport, Signal, Binding, Presence)


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 2**64 + 1, rng.randint(-10**12, 10**12)])
    if kind == 3:
        return rng.choice([0.0, -0.0, 1e308, 1e-308, rng.uniform(-1e9, 1e9)])
    if kind == 4:
        return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(40)))
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {str(random_json(rng, 3)): random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        op = rng.randrange(4)
        if op == 0 and b:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            b.insert(rng.randrange(len(b) + 1), rng.randrange(256))
        elif op == 2 and b:
            del b[rng.randrange(len(b))]
        elif b:
            del b[rng.randrange(len(b)):]
    return bytes(b)


def structured(rng: random.Random, seed: Any) -> bytes:
    doc = json.loads(encode(seed))
    keys = list(doc)
    for _ in range(rng.randrange(1, 4)):
        k = rng.choice(keys)
        op = rng.randrange(3)
        if op == 0:
            doc[k] = random_json(rng)
        elif op == 1:
            doc.pop(k, None)
        else:
            doc[k + "x"] = doc.pop(k, None)
    return json.dumps(doc).encode()


def make_input(rng: random.Random) -> bytes:
    seed = rng.choice(SEEDS)
    r = rng.random()
    if r < 0.35:
        return mutate(rng, encode(seed))
    if r < 0.75:
        return structured(rng, seed)
    if r < 0.9:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
    return json.dumps(random_json(rng)).encode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    crashes: list[str] = []
    accepted = rejected = 0
    started = time.perf_counter()
    for i in range(args.n):
        data = make_input(rng)
        for model in MODELS:
            try:
                decode(data, model)
                accepted += 1
            except WireError:
                rejected += 1
            except Exception:  # the point: anything else is a crash  # noqa: BLE001
                crashes.append(f"input {i} as {model.__name__}: {traceback.format_exc(limit=2)}")
        if (i + 1) % 20_000 == 0:
            print(f"{i + 1} inputs, {len(crashes)} crashes", flush=True)
    result = {"inputs": args.n, "decodes": args.n * len(MODELS), "accepted": accepted,
              "rejected": rejected, "crashes": len(crashes), "seed": args.seed,
              "wall_s": round(time.perf_counter() - started, 1), "first_crashes": crashes[:5]}
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
