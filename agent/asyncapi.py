"""The AsyncAPI 3.0 description of peerwatt's MQTT interface, built from the wire models.

    python -m agent.asyncapi > docs/asyncapi.json

Payload schemas are the pydantic models' own JSON Schemas (draft 2020-12) and channel
addresses are agent/topics.py's, so the document cannot drift from the code; a test checks
the committed file is current and that messages captured from a live community validate
against it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel

from agent.topics import ADDRESSES, ANY, BUYERS, COORDINATORS, PREFIX, shared
from agent.wire import (
    MAX_PAYLOAD_BYTES,
    Binding,
    MoveMsg,
    Presence,
    Roster,
    Signal,
    StateReport,
)

SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
_BUYERS = shared(BUYERS, f"{PREFIX}/{ADDRESSES['offers']}".replace("{agent}", ANY))
_COORDINATORS = shared(COORDINATORS, "…/" + ADDRESSES["state"].replace("{agent}", ANY))

# channel id -> (message model, who sends, description); addresses: agent.topics.ADDRESSES
_CHANNELS: dict[str, tuple[type[BaseModel], str, str]] = {
    "meanfield": (Signal, "coordinator",
                  "The mean-field signal; retained, MQTT 5 message expiry of a few intervals."),
    "roster": (Roster, "coordinator",
               "The homes admitted, with their node ids; retained, published when it "
               "changes; the signal carries its digest."),
    "state": (StateReport, "agent",
              "An agent's state report for the coordinator, each interval (QoS 0)."),
    "identity": (Binding, "agent",
                 "An agent's Ed25519 key bound to its Lightning node id; retained."),
    "presence": (Presence, "agent",
                 "Online/offline; retained; the Last Will sets online=false."),
    "offers": (MoveMsg, "agent",
               "A seller's offer for a delivery interval. Buyers with a need hold the shared "
               f"subscription {_BUYERS}, so each offer reaches one of them."),
    "inbox": (MoveMsg, "agent",
              "Counter, accept, reject and confirm moves from `sender` to `agent`."),
    "coordinator_reports": (StateReport, "coordinator",
                            "Group mode: state reports a coordinator received through the "
                            f"shared subscription {_COORDINATORS}, forwarded "
                            "so every coordinator of the group has them all."),
    "coordinator_presence": (Presence, "coordinator",
                             "Group mode: retained liveness with a Last Will; the live "
                             "coordinator with the lowest id publishes the signal."),
}
CHANNELS: dict[str, tuple[str, type[BaseModel], str, str]] = {
    cid: (ADDRESSES[cid], *rest) for cid, rest in _CHANNELS.items()}
# Channels only a coordinator group uses (a single coordinator never sends on them).
GROUP_CHANNELS = {"coordinator_reports", "coordinator_presence"}

PARAMETERS = {
    "community": "Community id.",
    "agent": "Agent id (the broker username under the shipped ACL).",
    "sender": "Agent id of the sender; the ACL only lets a home publish under its own id.",
    "interval": "Delivery interval index: floor(unix time / interval length).",
    "coordinator": "Coordinator id (coordinator_id in its config).",
}


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"schemaFormat": SCHEMA_FORMAT, "schema": model.model_json_schema()}


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for cid, (address, model, sender, text) in CHANNELS.items():
        full = f"{PREFIX}/{address}"
        names = [p.strip("{}") for p in full.split("/") if p.startswith("{")]
        messages[model.__name__] = {
            "name": model.__name__, "contentType": "application/json",
            "summary": (model.__doc__ or model.__name__).strip().splitlines()[0],
            "payload": _schema(model)}
        channels[cid] = {
            "address": full, "description": text,
            "parameters": {n: {"description": PARAMETERS[n]} for n in names},
            "messages": {model.__name__: {"$ref": f"#/components/messages/{model.__name__}"}}}
        operations[f"publish_{cid}"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"The {sender} publishes.",
            "messages": [{"$ref": f"#/channels/{cid}/messages/{model.__name__}"}]}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "peerwatt", "version": "1",
                 "description": "MQTT 5 interface between peerwatt home agents and the "
                                f"community coordinator. Payloads are JSON, at most "
                                f"{MAX_PAYLOAD_BYTES} bytes; moves are Ed25519-signed over "
                                "topic and body (field `sig`)."},
        "defaultContentType": "application/json",
        "servers": {"community": {"host": "localhost:1883", "protocol": "mqtt",
                                  "protocolVersion": "5"}},
        "channels": channels, "operations": operations,
        "components": {"messages": messages},
    }


def channel_for(topic: str) -> tuple[str, type[BaseModel]] | None:
    """Which channel a concrete topic belongs to (by its shape)."""
    parts = topic.split("/")
    for cid, (address, model, _, _) in CHANNELS.items():
        pattern = f"{PREFIX}/{address}".split("/")
        if len(pattern) == len(parts) and all(
                p.startswith("{") or p == t for p, t in zip(pattern, parts, strict=True)):
            return cid, model
    return None


def main() -> None:
    json.dump(document(), sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
