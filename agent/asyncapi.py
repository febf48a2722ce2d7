"""The AsyncAPI 3.0 description of peerwatt's MQTT interface, built from the wire models.

    python -m agent.asyncapi > docs/asyncapi.json

Payload schemas are the pydantic models' own JSON Schemas (draft 2020-12), so the
document cannot drift from the code; a test checks the committed file is current and
that messages captured from a live community validate against it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel

from agent.wire import MAX_PAYLOAD_BYTES, Binding, MoveMsg, Presence, Signal, StateReport

SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
PREFIX = "peerwatt/v1/{community}"

# channel id -> (address under the prefix, message model, who sends, description)
CHANNELS: dict[str, tuple[str, type[BaseModel], str, str]] = {
    "meanfield": ("meanfield", Signal, "coordinator",
                  "The mean-field signal; retained, MQTT 5 message expiry of a few intervals."),
    "state": ("state/{agent}", StateReport, "agent",
              "An agent's state report for the coordinator, each interval (QoS 0)."),
    "identity": ("identity/{agent}", Binding, "agent",
                 "An agent's Ed25519 key bound to its Lightning node id; retained."),
    "presence": ("presence/{agent}", Presence, "agent",
                 "Online/offline; retained; the Last Will sets online=false."),
    "offers": ("offers/{interval}/{agent}", MoveMsg, "agent",
               "A seller's offer for a delivery interval. Buyers with a need hold the shared "
               "subscription $share/buyers/peerwatt/v1/{community}/offers/{interval}/+, so "
               "each offer reaches one of them."),
    "inbox": ("inbox/{agent}/{sender}", MoveMsg, "agent",
              "Counter, accept, reject and confirm moves from `sender` to `agent`."),
    "coordinator_reports": ("coordinators/reports/{coordinator}", StateReport, "coordinator",
                            "Group mode: state reports a coordinator received through the "
                            "shared subscription $share/coordinators/…/state/+, forwarded "
                            "so every coordinator of the group has them all."),
    "coordinator_presence": ("coordinators/presence/{coordinator}", Presence, "coordinator",
                             "Group mode: retained liveness with a Last Will; the live "
                             "coordinator with the lowest id publishes the signal."),
}
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
