#!/usr/bin/env bash
# The simulated powerline for SLAC tests (see iso15118_ev_testing/modem_sim.py):
#   EV host EV_IFACE (default namespace) ==veth== slcev (NETNS, the EV modem's port)
#   charger host secc<N> (NETNS)          ==veth== plc<N> (NETNS, charger modem N's port)
#   scripts/slac_link.sh up   [EV_IFACE] [NETNS] [CHARGERS]   create (idempotent)
#   scripts/slac_link.sh down [EV_IFACE] [NETNS]              remove (idempotent)
# Needs root (CAP_NET_ADMIN). Nothing bridges the ports: modem_sim is the powerline.
set -euo pipefail
ACTION="${1:-up}"
EV_IFACE="${2:-evslc0}"
NETNS="${3:-slc_ns}"
CHARGERS="${4:-1}"
die() { echo "slac_link: $*" >&2; exit 1; }
quiet_port() {  # a modem port sends nothing of its own
  ip netns exec "$NETNS" sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" || true
  ip netns exec "$NETNS" ip link set "$1" up
}
# The hosts' stack leaves IP checksums to the "hardware" (veth offload); frames the modem
# simulator relays would then carry unfinished checksums. Switch transmit checksumming off
# (ETHTOOL_STXCSUM through SIOCETHTOOL; no ethtool binary needed).
tx_csum_off() {  # [ip netns exec NETNS] INTERFACE
  "${@:1:$#-1}" python3 -c '
import array, fcntl, socket, struct, sys
value = array.array("I", [0x17, 0])
request = struct.pack("16sP", sys.argv[1].encode(), value.buffer_info()[0])
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    fcntl.ioctl(sock, 0x8946, request)
' "${@: -1}"
}
up() {
  [ "$(id -u)" -eq 0 ] || die "needs root"
  ip netns list | grep -qw "^$NETNS" || ip netns add "$NETNS"
  ip netns exec "$NETNS" ip link set lo up
  ip link show "$EV_IFACE" >/dev/null 2>&1 || \
    ip link add "$EV_IFACE" type veth peer name slcev netns "$NETNS"
  sysctl -qw "net.ipv6.conf.$EV_IFACE.accept_dad=0" || true
  ip link set "$EV_IFACE" up
  tx_csum_off env "$EV_IFACE"
  quiet_port slcev
  for ((i = 0; i < CHARGERS; i++)); do
    ip netns exec "$NETNS" ip link show "secc$i" >/dev/null 2>&1 || \
      ip netns exec "$NETNS" ip link add "secc$i" type veth peer name "plc$i"
    ip netns exec "$NETNS" sysctl -qw "net.ipv6.conf.secc$i.accept_dad=0" || true
    ip netns exec "$NETNS" ip link set "secc$i" up
    tx_csum_off ip netns exec "$NETNS" "secc$i"
    quiet_port "plc$i"
  done
  echo "slac_link: up: $EV_IFACE <-> $NETNS: slcev, $CHARGERS charger(s) secc*/plc*"
}
down() {
  ip link show "$EV_IFACE" >/dev/null 2>&1 && ip link del "$EV_IFACE"
  ip netns list | grep -qw "^$NETNS" && ip netns del "$NETNS"
  echo "slac_link: down: $EV_IFACE, $NETNS"
}
case "$ACTION" in
  up) up ;;
  down) down ;;
  *) die "unknown action '$ACTION' (up, down)" ;;
esac
