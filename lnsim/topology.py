"""Which channels the simulated network starts with: star, ring, mesh, or a JSON file.

A topology file (`--topology FILE`) names the nodes and each channel:

    {"nodes": ["a", "b", "c"],
     "channels": [{"a": "a", "b": "b", "capacity_sat": 100000, "a_sat": 60000,
                   "fee_base_msat": 1000, "fee_ppm": 10}, ...]}

`a_sat` (default: half) is node a's side; the fee policy applies to both directions unless
`b_fee_base_msat` / `b_fee_ppm` give node b's own.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lnsim.graph import DEFAULT_FEE_BASE_MSAT, DEFAULT_FEE_PPM, FeePolicy
from lnsim.network import DEFAULT_CHANNEL_SAT, LSP_NAME, Network, NodeOptions

TOPOLOGIES = ("star", "hub", "ring", "mesh")  # "hub" is the older name of "star"


class ChannelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    a: str
    b: str
    capacity_sat: Annotated[int, Field(gt=0)]
    a_sat: Annotated[int, Field(ge=0)] | None = None
    fee_base_msat: Annotated[int, Field(ge=0)] = DEFAULT_FEE_BASE_MSAT
    fee_ppm: Annotated[int, Field(ge=0)] = DEFAULT_FEE_PPM
    b_fee_base_msat: Annotated[int, Field(ge=0)] | None = None
    b_fee_ppm: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _sides(self) -> ChannelSpec:
        if self.a == self.b:
            raise ValueError(f"channel {self.a}-{self.b}: needs two different nodes")
        if self.a_sat is not None and self.a_sat > self.capacity_sat:
            raise ValueError(f"channel {self.a}-{self.b}: a_sat {self.a_sat} > capacity_sat "
                             f"{self.capacity_sat}")
        return self


class TopologyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    nodes: Annotated[list[str], Field(min_length=1)]
    channels: list[ChannelSpec]

    @model_validator(mode="after")
    def _known_nodes(self) -> TopologyFile:
        if len(set(self.nodes)) != len(self.nodes):
            raise ValueError("node names must be unique")
        for c in self.channels:
            for name in (c.a, c.b):
                if name not in self.nodes:
                    raise ValueError(f"channel {c.a}-{c.b}: unknown node {name!r}")
        return self


def load_topology_file(path: Path) -> TopologyFile:
    try:
        return TopologyFile.model_validate(json.loads(path.read_text()))
    except OSError as exc:
        raise ValueError(f"topology file {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"topology file {path}: not JSON: {exc}") from exc
    except ValidationError as exc:
        raise ValueError(f"topology file {path}: {exc}") from exc


def build_network(
    names: list[str], topology: str = "star", seed: int = 0,
    channel_sat: int = DEFAULT_CHANNEL_SAT, options: NodeOptions | None = None,
) -> Network:
    """Homes `names` (plus a routing node "lsp" for star) with channels split half/half; or,
    when `topology` is a path to a topology file, the nodes and channels it lists."""
    if topology not in TOPOLOGIES:
        spec = load_topology_file(Path(topology))
        return _from_file(spec, seed, options)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"node names must be non-empty and unique, got {names}")
    star = topology in ("star", "hub")
    if star and LSP_NAME in names:
        raise ValueError(f"{LSP_NAME!r} is the star's own name")
    net = Network(options=options)
    homes = [net.add_node(name, seed) for name in names]
    capacity_msat = channel_sat * 1000
    if star:
        lsp = net.add_node(LSP_NAME, seed)
        for home in homes:
            net.graph.add_channel(lsp.id, home.id, capacity_msat)
    elif topology == "ring":
        ring = homes + homes[:1] if len(homes) > 2 else homes  # two homes: one channel
        for a, b in itertools.pairwise(ring):
            net.graph.add_channel(a.id, b.id, capacity_msat)
    else:
        for i, a in enumerate(homes):
            for b in homes[i + 1:]:
                net.graph.add_channel(a.id, b.id, capacity_msat)
    return net


def _from_file(spec: TopologyFile, seed: int, options: NodeOptions | None) -> Network:
    net = Network(options=options)
    ids = {name: net.add_node(name, seed).id for name in spec.nodes}
    for c in spec.channels:
        policy_a = FeePolicy(c.fee_base_msat, c.fee_ppm)
        policy_b = FeePolicy(c.fee_base_msat if c.b_fee_base_msat is None else c.b_fee_base_msat,
                             c.fee_ppm if c.b_fee_ppm is None else c.b_fee_ppm)
        net.graph.add_channel(
            ids[c.a], ids[c.b], c.capacity_sat * 1000,
            a_share_msat=None if c.a_sat is None else c.a_sat * 1000,
            policy_a=policy_a, policy_b=policy_b)
    return net
