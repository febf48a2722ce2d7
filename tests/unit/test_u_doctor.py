"""The doctor's reading of Core Lightning's `listconfigs` (both documented shapes)."""

from __future__ import annotations

from typing import Any

import pytest

from agent.doctor import Check, signer_values


@pytest.mark.parametrize(("answer", "values"), [
    # v23.08+: {"configs": {"subdaemon": {"values_str": [...], "sources": [...]}}}
    ({"configs": {"subdaemon": {"values_str": ["hsmd:remote_hsmd_socket"],
                                "sources": ["/etc/lightningd/config:7"]}}},
     ["hsmd:remote_hsmd_socket"]),
    ({"configs": {"network": {"value_str": "bitcoin"}}}, []),
    # before v23.08 (flat, deprecated): a string or a list
    ({"subdaemon": "hsmd:remote_hsmd_socket", "network": "bitcoin"},
     ["hsmd:remote_hsmd_socket"]),
    ({"subdaemon": ["channeld:/opt/chan", "hsmd:/usr/local/bin/remote_hsmd_socket"]},
     ["channeld:/opt/chan", "hsmd:/usr/local/bin/remote_hsmd_socket"]),
    ({"network": "bitcoin"}, []),
])
def test_signer_values(answer: dict[str, Any], values: list[str]) -> None:
    assert signer_values(answer) == values


def test_hint_only_when_not_passed() -> None:
    assert "hint" not in Check("disk", "PASS", "ok", "unused").render()
    assert Check("disk", "FAIL", "full", "free space").render().endswith("hint: free space")
