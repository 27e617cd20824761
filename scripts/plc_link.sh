#!/usr/bin/env bash
# The simulated PLC link: a veth pair whose EV end stays in the normal network namespace
# (so DDS keeps working) and whose charger end lives in its own namespace.
#   scripts/plc_link.sh up   [EV_IFACE] [NETNS]   create (idempotent), wait for link-local addresses
#   scripts/plc_link.sh down [EV_IFACE] [NETNS]   remove (idempotent)
#   scripts/plc_link.sh status [EV_IFACE] [NETNS]
# Charger end: interface "secc0" inside NETNS. Needs root (CAP_NET_ADMIN).
set -euo pipefail

ACTION="${1:-up}"
EV_IFACE="${2:-${EV_IFACE:-ev0}}"
NETNS="${3:-${SECC_NETNS:-iso15118_secc}}"
SECC_IFACE="secc0"

die() { echo "plc_link: $*" >&2; exit 1; }

ll_ready() {  # $@ = ip command prefix; succeeds when the link-local address is usable
  "$@" -6 addr show dev "$SECC_OR_EV" scope link 2>/dev/null | grep -q 'inet6 fe80' &&
  ! "$@" -6 addr show dev "$SECC_OR_EV" scope link | grep -q tentative
}

wait_link_local() {
  for _ in $(seq 1 100); do
    SECC_OR_EV="$EV_IFACE" ll_ready ip && SECC_OR_EV="$SECC_IFACE" ll_ready ip netns exec "$NETNS" ip && return 0
    sleep 0.1
  done
  die "no usable IPv6 link-local address on $EV_IFACE / $NETNS:$SECC_IFACE after 10 s"
}

up() {
  [ "$(id -u)" -eq 0 ] || die "creating a veth pair needs root"
  ip netns list | grep -qw "^$NETNS" || ip netns add "$NETNS"
  if ! ip link show "$EV_IFACE" >/dev/null 2>&1; then
    ip link add "$EV_IFACE" type veth peer name "$SECC_IFACE" netns "$NETNS"
  fi
  # Link-local addresses without the duplicate-address-detection wait.
  sysctl -qw "net.ipv6.conf.$EV_IFACE.accept_dad=0" || true
  ip netns exec "$NETNS" sysctl -qw "net.ipv6.conf.$SECC_IFACE.accept_dad=0" || true
  ip link set "$EV_IFACE" up
  ip netns exec "$NETNS" ip link set lo up
  ip netns exec "$NETNS" ip link set "$SECC_IFACE" up
  wait_link_local
  echo "plc_link: up: EV $EV_IFACE <-> $NETNS:$SECC_IFACE"
}

down() {
  ip link show "$EV_IFACE" >/dev/null 2>&1 && ip link del "$EV_IFACE"
  ip netns list | grep -qw "^$NETNS" && ip netns del "$NETNS"
  echo "plc_link: down: $EV_IFACE, $NETNS"
}

status() {
  ip -6 addr show dev "$EV_IFACE" 2>/dev/null || echo "no $EV_IFACE"
  ip netns exec "$NETNS" ip -6 addr show dev "$SECC_IFACE" 2>/dev/null || echo "no $NETNS:$SECC_IFACE"
}

case "$ACTION" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "unknown action '$ACTION' (up, down, status)" ;;
esac
