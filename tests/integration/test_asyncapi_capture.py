"""docs/asyncapi.json is current, and real traffic from a live community validates against it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from community import Community, MqttProbe, start_community, wait_for
from jsonschema import Draft202012Validator

from agent.asyncapi import CHANNELS, GROUP_CHANNELS, channel_for, document
from demo.procs import Fleet

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_committed_document_is_current() -> None:
    assert json.loads(DOC.read_text()) == json.loads(json.dumps(document())), \
        "docs/asyncapi.json is stale: run `python -m agent.asyncapi > docs/asyncapi.json`"


def test_captured_messages_validate(fleet: Fleet, mosquitto: Any) -> None:
    doc = json.loads(DOC.read_text())
    validators = {
        name: Draft202012Validator(msg["payload"]["schema"])
        for name, msg in doc["components"]["messages"].items()}
    c: Community = start_community(fleet, mosquitto.url, "asyncapi", homes=2, speed=900.0)
    probe = MqttProbe(c.broker_port, "asyncapi-probe")
    probe.subscribe(f"{c.prefix}/#")
    try:
        c.start_coordinator()
        for name in c.homes:
            c.start_agent(name)

        def seen() -> set[str]:
            return {hit[0] for m in list(probe.received) if (hit := channel_for(m.topic))}

        def alive() -> None:
            for h in c.homes.values():
                h.alive()

        wait_for("traffic on every channel", lambda: seen() == set(CHANNELS) - GROUP_CHANNELS,
                 60.0, alive)
        time.sleep(0.5)
    finally:
        probe.close()
    checked, failures, unknown = 0, [], []
    for m in list(probe.received):
        hit = channel_for(m.topic)
        if hit is None:
            unknown.append(m.topic)
            continue
        _, model = hit
        errors = list(validators[model.__name__].iter_errors(json.loads(m.payload)))
        if errors:
            failures.append((m.topic, errors[0].message))
        checked += 1
    assert not unknown, f"topics the document does not describe: {sorted(set(unknown))[:5]}"
    assert not failures, failures[:5]
    assert checked >= 6
