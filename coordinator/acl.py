"""`peerwatt coordinator acl`: the mosquitto ACL for one community, written per user.

mosquitto's `pattern` lines can substitute only the username (`%u`) and the client id
(`%c`), never the community, and they apply to every user, the coordinator's included.
So the ACL names each user and its community: a home (username = agent id) may write only
topics of its own community that end with (or name) its own id, and read only its
community's topics; the coordinator and Home Assistant get their own blocks. No `pattern`
line is left, so mosquitto logs no warning about patterns without `%u` or `%c`.

    peerwatt coordinator acl --community north home-001 home-002 > /etc/mosquitto/peerwatt.acl

Adding a home means a line in the password file and a new ACL (then `systemctl reload
mosquitto`). Several communities on one broker: one file each, concatenated.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.settings import NAME_PATTERN

NAME = re.compile(NAME_PATTERN)
HA_PREFIX = "homeassistant"


def _home(prefix: str, home: str) -> list[str]:
    return [
        f"user {home}",
        f"topic write {prefix}/state/{home}",
        f"topic write {prefix}/identity/{home}",
        f"topic write {prefix}/presence/{home}",
        f"topic write {prefix}/offers/+/{home}",
        f"topic write {prefix}/inbox/+/{home}",
        f"topic read {prefix}/inbox/{home}/+",
        f"topic read {prefix}/offers/+/+",
        f"topic read {prefix}/meanfield",
        f"topic read {prefix}/roster",
        f"topic read {prefix}/identity/+",
        f"topic read {prefix}/presence/+",
        # Home Assistant discovery ([homeassistant] enabled): its own entities only.
        f"topic write {HA_PREFIX}/+/peerwatt_{home}/+/config",
        f"topic write {prefix}/ha/{home}",
        f"topic read {HA_PREFIX}/status",
    ]


def _coordinator(prefix: str, user: str) -> list[str]:
    return [
        f"user {user}",
        f"topic read {prefix}/state/+",
        f"topic read {prefix}/identity/+",
        f"topic read {prefix}/presence/+",
        f"topic write {prefix}/meanfield",
        f"topic write {prefix}/roster",
        # Several coordinators as one group (`group = true`): forwarded reports, presence.
        f"topic readwrite {prefix}/coordinators/#",
    ]


def _homeassistant(prefix: str, user: str) -> list[str]:
    return [
        f"user {user}",
        f"topic read {HA_PREFIX}/#",
        f"topic write {HA_PREFIX}/status",
        f"topic read {prefix}/ha/+",
        f"topic read {prefix}/presence/+",
    ]


def problems(community: str, homes: Sequence[str], coordinators: Sequence[str],
             homeassistant: str | None) -> list[str]:
    """One line per name that cannot go into the ACL (empty: all fine)."""
    users = [*homes, *coordinators, *([homeassistant] if homeassistant else [])]
    found = [f"{what} {name!r}: not an id (lowercase letters, digits, - and _, at most 63)"
             for what, names in (("community", [community]), ("user", users))
             for name in names if not NAME.fullmatch(name)]
    found += [f"user {u!r} named twice" for u in sorted({u for u in users if users.count(u) > 1})]
    if not homes:
        found.append("no home named")
    return found


def render(community: str, homes: Sequence[str], coordinators: Sequence[str] = ("coordinator",),
           homeassistant: str | None = "homeassistant") -> str:
    bad = problems(community, homes, coordinators, homeassistant)
    if bad:
        raise ValueError("; ".join(bad))
    prefix = f"peerwatt/v1/{community}"
    options = [] if list(coordinators) == ["coordinator"] else \
        [f"--coordinator {c}" for c in coordinators]
    if homeassistant != "homeassistant":
        options.append(f"--homeassistant {homeassistant}" if homeassistant
                       else "--no-homeassistant")
    command = " ".join(["peerwatt coordinator acl --community", community, *options, *homes])
    blocks = [[
        f"# peerwatt topic ACL for mosquitto (acl_file), community {community!r}.",
        f"# Written by: {command}",
        "# Usernames are agent ids. A home writes only topics of its community that end with",
        "# (or name) its own id: a reply to home B from home A goes to inbox/B/A, and A cannot",
        "# publish to inbox/B/C, nor into another community's topics.",
    ]]
    blocks += [_coordinator(prefix, c) for c in coordinators]
    blocks += [_home(prefix, h) for h in homes]
    if homeassistant:
        blocks.append(_homeassistant(prefix, homeassistant))
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"


def _read_homes(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [s for line in lines if (s := line.split("#", 1)[0].strip())]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="peerwatt coordinator acl",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--community", required=True)
    ap.add_argument("--coordinator", action="append", default=[],
                    help="the coordinator's username (repeatable; default: coordinator)")
    ha = ap.add_mutually_exclusive_group()
    ha.add_argument("--homeassistant", default="homeassistant",
                    help="Home Assistant's username (default: homeassistant)")
    ha.add_argument("--no-homeassistant", action="store_true", help="no Home Assistant user")
    ap.add_argument("--homes-file", type=Path, help="agent ids, one a line (# comments)")
    ap.add_argument("homes", nargs="*", help="agent ids (= usernames)")
    args = ap.parse_args(argv)
    homes = list(args.homes)
    if args.homes_file is not None:
        try:
            homes += _read_homes(args.homes_file)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"peerwatt coordinator acl: {args.homes_file}: {exc}", file=sys.stderr)
            return 2
    try:
        text = render(args.community, homes, args.coordinator or ["coordinator"],
                      None if args.no_homeassistant else args.homeassistant)
    except ValueError as exc:
        print(f"peerwatt coordinator acl: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0
