#!/bin/sh
# Install the peerwatt agent as a systemd service on Raspberry Pi OS / Debian.
#
#   sudo deploy/install.sh [options]          (or: sudo make install)
#
# Creates the venv PREFIX (default /opt/peerwatt) with peerwatt and its runtime dependencies
# only, the system user `peerwatt`, /etc/peerwatt/agent.toml from examples/agent.toml (an
# existing config is never touched), the unit /etc/systemd/system/peerwatt-agent.service
# and, with --lightning-group, a drop-in that lets the agent reach Core Lightning's RPC
# socket; then enables the unit (not started: edit the config first, then run
# `sudo -u peerwatt /opt/peerwatt/bin/peerwatt doctor` and `systemctl start peerwatt-agent`).
#
# Options:
#   --prefix DIR             venv location (default /opt/peerwatt)
#   --destdir DIR            install into DIR as a staging root: no user, no systemctl,
#                            no root needed (packaging, tests)
#   --dry-run                print every step, change nothing
#   --skip-pip               create the venv but install nothing into it
#   --lightning-group GROUP  the group owning lightningd's lightning-rpc socket
#   --coordinator            also install peerwatt-coordinator.service and coordinator.toml
#   --no-enable              do not enable the unit
#   --python PY              the interpreter for the venv (default python3, 3.11 or newer)
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/peerwatt
DESTDIR=
DRY=0
SKIP_PIP=0
LN_GROUP=
COORDINATOR=0
ENABLE=1
PYTHON=python3

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$2; shift 2 ;;
        --destdir) DESTDIR=$2; shift 2 ;;
        --dry-run) DRY=1; shift ;;
        --skip-pip) SKIP_PIP=1; shift ;;
        --lightning-group) LN_GROUP=$2; shift 2 ;;
        --coordinator) COORDINATOR=1; shift ;;
        --no-enable) ENABLE=0; shift ;;
        --python) PYTHON=$2; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage 2 ;;
    esac
done

say() { printf 'install: %s\n' "$*"; }
run() {  # run a command, or only show it with --dry-run
    if [ "$DRY" = 1 ]; then say "would run: $*"; else say "$*"; "$@"; fi
}
as_root() {  # steps that change the system itself: skipped into a staging root
    if [ -n "$DESTDIR" ]; then say "skipped in --destdir: $*"; else run "$@"; fi
}

if [ -z "$DESTDIR" ] && [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (sudo), or use --destdir DIR / --dry-run" >&2
    exit 1
fi
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "install.sh: $PYTHON is older than 3.11 (Debian 12 / Raspberry Pi OS bookworm has 3.11)" >&2
    exit 1
}

ROOT=$DESTDIR
OWNER=""
[ -z "$DESTDIR" ] && OWNER="-o root -g peerwatt"

# 1. the system user (its home is the state directory systemd creates)
if [ -z "$DESTDIR" ] && id peerwatt >/dev/null 2>&1; then
    say "user peerwatt exists"
else
    as_root useradd --system --user-group --home-dir /var/lib/peerwatt --no-create-home \
        --shell /usr/sbin/nologin peerwatt
fi

# 2. the venv: peerwatt and its runtime dependencies only (no dev/train extras)
run "$PYTHON" -m venv "$ROOT$PREFIX"
if [ "$SKIP_PIP" = 1 ]; then
    say "skipping pip (--skip-pip)"
else
    run "$ROOT$PREFIX/bin/pip" install --quiet --upgrade pip
    run "$ROOT$PREFIX/bin/pip" install --quiet "$SRC"
fi

# 3. config skeleton: never overwrite an installer's config
# /etc/peerwatt is root's (0755); agent.toml root:peerwatt 0640 (the agent reads it through
# its group, cannot change it); coordinator.toml 0644 (its DynamicUser has no group here).
run install -d -m 0755 "$ROOT/etc/peerwatt"
install_config() {  # NAME MODE OWNER
    if [ -e "$ROOT/etc/peerwatt/$1" ]; then
        say "keeping existing /etc/peerwatt/$1"
    else
        # shellcheck disable=SC2086
        run install -m "$2" $3 "$SRC/examples/$1" "$ROOT/etc/peerwatt/$1"
    fi
}
install_config agent.toml 0640 "$OWNER"

# 4. units
run install -d -m 0755 "$ROOT/etc/systemd/system"
run install -m 0644 "$SRC/systemd/peerwatt-agent.service" "$ROOT/etc/systemd/system/"
if [ -n "$LN_GROUP" ]; then
    dropin="$ROOT/etc/systemd/system/peerwatt-agent.service.d"
    run install -d -m 0755 "$dropin"
    if [ "$DRY" = 1 ]; then
        say "would write $dropin/lightning.conf: SupplementaryGroups=$LN_GROUP"
    else
        printf '# written by deploy/install.sh: reach lightningd'"'"'s RPC socket\n[Service]\nSupplementaryGroups=%s\n' \
            "$LN_GROUP" > "$dropin/lightning.conf"
        say "wrote $dropin/lightning.conf"
    fi
fi
if [ "$COORDINATOR" = 1 ]; then
    install_config coordinator.toml 0644 ""
    run install -m 0644 "$SRC/systemd/peerwatt-coordinator.service" "$ROOT/etc/systemd/system/"
fi

# 5. systemd
as_root systemctl daemon-reload
if [ "$ENABLE" = 1 ]; then
    as_root systemctl enable peerwatt-agent.service
    [ "$COORDINATOR" = 1 ] && as_root systemctl enable peerwatt-coordinator.service
fi

say "done. Next: edit /etc/peerwatt/agent.toml, then"
say "  sudo -u peerwatt $PREFIX/bin/peerwatt doctor --config /etc/peerwatt/agent.toml"
say "  sudo systemctl start peerwatt-agent && systemctl status peerwatt-agent"
