"""Topic strings come from agent/topics.py, and the AsyncAPI document uses the same table."""

from __future__ import annotations

from agent import topics
from agent.asyncapi import CHANNELS, channel_for
from agent.topics import ADDRESSES, HomeAssistantTopics, Topics


def test_topics_of_a_community() -> None:
    t = Topics("c")
    assert t.signal == "peerwatt/v1/c/meanfield"
    assert t.state("a") == "peerwatt/v1/c/state/a"
    assert t.state() == "peerwatt/v1/c/state/+"
    assert t.offers(7, "a") == "peerwatt/v1/c/offers/7/a"
    assert topics.shared(topics.BUYERS, t.offers(7)) == "$share/buyers/peerwatt/v1/c/offers/7/+"
    assert t.inbox("a", "b") == "peerwatt/v1/c/inbox/a/b"
    assert t.inbox("a") == "peerwatt/v1/c/inbox/a/+"
    assert t.identity("a") == "peerwatt/v1/c/identity/a"
    assert t.presence("a") == "peerwatt/v1/c/presence/a"
    assert t.coordinator_reports("k") == "peerwatt/v1/c/coordinators/reports/k"
    assert t.coordinator_presence() == "peerwatt/v1/c/coordinators/presence/+"
    assert t.ha_state("a") == "peerwatt/v1/c/ha/a"
    ha = HomeAssistantTopics("homeassistant")
    assert ha.status == "homeassistant/status"
    assert ha.config("sensor", "peerwatt_a", "pv_power_w") == \
        "homeassistant/sensor/peerwatt_a/pv_power_w/config"


def test_shapes_and_suffixes() -> None:
    t = Topics("c")
    assert t.is_channel("peerwatt/v1/c/coordinators/presence/k", "coordinator_presence")
    assert not t.is_channel("peerwatt/v1/c/coordinators/reports/k", "coordinator_presence")
    assert not t.is_channel("peerwatt/v1/other/coordinators/presence/k", "coordinator_presence")
    assert t.state("a").endswith(topics.suffix("state", agent="a"))
    assert topics.last_level(t.inbox("a", "b")) == "b"


def test_the_asyncapi_document_reads_the_same_addresses() -> None:
    assert {cid: address for cid, (address, *_) in CHANNELS.items()} == ADDRESSES
    t = Topics("c")
    built = {"meanfield": t.signal, "roster": t.roster, "state": t.state("a"),
             "identity": t.identity("a"),
             "presence": t.presence("a"), "offers": t.offers(3, "a"),
             "inbox": t.inbox("a", "b"), "coordinator_reports": t.coordinator_reports("k"),
             "coordinator_presence": t.coordinator_presence("k")}
    assert set(built) == set(ADDRESSES)
    for cid, topic in built.items():
        found = channel_for(topic)
        assert found is not None, topic
        assert found[0] == cid, topic
