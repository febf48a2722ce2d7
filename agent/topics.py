"""Every MQTT topic of peerwatt, built in one place.

`ADDRESSES` holds each channel's address under the community prefix; the AsyncAPI
document (agent/asyncapi.py → docs/asyncapi.json) is generated from the same table, and
`Topics` fills it in for one community. Every topic a home publishes on ends with (or
names) its own id, so the shipped broker ACL (deploy/mosquitto/) can stop impersonation.
"""

from __future__ import annotations

ROOT = "peerwatt/v1"
PREFIX = ROOT + "/{community}"

# channel id -> address under the prefix (placeholders in braces, see asyncapi.PARAMETERS)
ADDRESSES: dict[str, str] = {
    "meanfield": "meanfield",
    "roster": "roster",
    "state": "state/{agent}",
    "identity": "identity/{agent}",
    "presence": "presence/{agent}",
    "offers": "offers/{interval}/{agent}",
    "inbox": "inbox/{agent}/{sender}",
    "coordinator_reports": "coordinators/reports/{coordinator}",
    "coordinator_presence": "coordinators/presence/{coordinator}",
}
# Home Assistant's own topics (discovery configs, its birth message) and our entities'
# state topic are not part of peerwatt's wire protocol (not in docs/asyncapi.json).
HA_STATE = "ha/{agent}"

BUYERS = "buyers"              # shared-subscription group of the buyers of an interval
COORDINATORS = "coordinators"  # shared-subscription group of a coordinator group
ANY = "+"


def shared(group: str, topic: str) -> str:
    """An MQTT 5 shared subscription: the broker hands each message to one member."""
    return f"$share/{group}/{topic}"


def suffix(channel: str, **params: str | int) -> str:
    """The end of `channel`'s address with every parameter filled in, after a `/`: a topic
    that ends with it names those parameters (`suffix("state", agent="a")`)."""
    return "/" + ADDRESSES[channel].format(**params)


def last_level(topic: str) -> str:
    """The topic's last level: the sender's id on every topic a home publishes on."""
    return topic.rsplit("/", 1)[-1]


class Topics:
    """The topics of one community."""

    def __init__(self, community: str) -> None:
        self.community = community
        self.prefix = PREFIX.format(community=community)

    def _at(self, channel: str, **params: str | int) -> str:
        return f"{self.prefix}/{ADDRESSES[channel].format(**params)}"

    @property
    def signal(self) -> str:
        return self._at("meanfield")

    @property
    def roster(self) -> str:
        return self._at("roster")

    def state(self, agent: str = ANY) -> str:
        return self._at("state", agent=agent)

    def identity(self, agent: str) -> str:
        return self._at("identity", agent=agent)

    def presence(self, agent: str) -> str:
        return self._at("presence", agent=agent)

    def offers(self, interval: int, agent: str = ANY) -> str:
        return self._at("offers", interval=interval, agent=agent)

    def inbox(self, agent: str, sender: str = ANY) -> str:
        return self._at("inbox", agent=agent, sender=sender)

    def coordinator_reports(self, coordinator: str = ANY) -> str:
        return self._at("coordinator_reports", coordinator=coordinator)

    def coordinator_presence(self, coordinator: str = ANY) -> str:
        return self._at("coordinator_presence", coordinator=coordinator)

    def ha_state(self, agent: str) -> str:
        return f"{self.prefix}/{HA_STATE.format(agent=agent)}"

    def is_channel(self, topic: str, channel: str) -> bool:
        """Whether `topic` has the shape of `channel`'s address in this community."""
        pattern = self._at(channel, **dict.fromkeys(_params(ADDRESSES[channel]), ANY))
        want, parts = pattern.split("/"), topic.split("/")
        return len(parts) == len(want) and all(
            w in (ANY, part) for w, part in zip(want, parts, strict=True))



class HomeAssistantTopics:
    """Home Assistant's MQTT discovery topics under its `discovery_prefix`."""

    def __init__(self, discovery_prefix: str) -> None:
        self.prefix = discovery_prefix

    @property
    def status(self) -> str:
        """Home Assistant's birth and last-will topic (`online` / `offline`)."""
        return f"{self.prefix}/status"

    def config(self, component: str, node_id: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/{node_id}/{object_id}/config"


def _params(address: str) -> list[str]:
    return [p.strip("{}") for p in address.split("/") if p.startswith("{")]
