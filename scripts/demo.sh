#!/usr/bin/env bash
# The demo: one ISO 15118-2 DC charging session between the EV node and the charger simulator
# over a simulated PLC link, driven by a scenario (iso15118_ev_testing/scenarios/
# demo_dc_session.yaml) and watched by session_monitor (timeline, summary, plot, and an MCAP
# recording of the node's topics).
# Sets everything up first (scripts/setup.sh). Needs root for the link (a veth pair + netns).
# Usage: scripts/demo.sh [session_monitor options except --plot, e.g. --scenario FILE to run
# another scenario]
# Environment: EV_IFACE (default ev0), SECC_NETNS (default iso15118_secc) to run beside
# another link. The ROS domain is picked among those no local process uses.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EV_IFACE="${EV_IFACE:-ev0}"
SECC_NETNS="${SECC_NETNS:-iso15118_secc}"
OUT="$ROOT/out"
PIDS=()

log() { printf '[demo] %s\n' "$*"; }

pick_ros_domain() {  # the first domain (61..100, random start) whose DDS UDP ports are all free
  local ports start d i
  ports="$(ss -Hunl | awk '{n = split($4, a, ":"); print a[n]}')"
  start=$((RANDOM % 40))
  for i in $(seq 0 39); do
    d=$((61 + (start + i) % 40))
    if ! awk -v lo=$((7400 + 250 * d)) -v hi=$((7649 + 250 * d)) \
         '$1 >= lo && $1 <= hi { used = 1 } END { exit !used }' <<<"$ports"; then
      echo "$d"; return 0
    fi
  done
  echo "demo: no free ROS domain in 61..100" >&2; return 1
}

stop_process() {  # SIGTERM, then SIGKILL after 5 s
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_process "$pid"; done
  bash "$ROOT/scripts/plc_link.sh" down "$EV_IFACE" "$SECC_NETNS" >/dev/null 2>&1 || true
}

wait_for_charger() {  # until the charger's SDP server listens on UDP 15118 (20 s at most)
  local i
  for i in $(seq 1 200); do
    kill -0 "${PIDS[0]}" 2>/dev/null || break
    ip netns exec "$SECC_NETNS" ss -Hunl 'sport = :15118' | grep -q . && return 0
    sleep 0.1
  done
  log "the charger simulator did not come up; end of $OUT/charger.log:"
  tail -n 20 "$OUT/charger.log" >&2
  return 1
}

bash "$ROOT/scripts/setup.sh" kilted
source "$ROOT/scripts/activate.sh" kilted
set -u   # activate.sh leaves nounset off
ROS_DOMAIN_ID="$(pick_ros_domain)"
export ROS_DOMAIN_ID ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
BIN="$INSTALL_BASE/iso15118_ev_ros/lib/iso15118_ev_ros"
TOOLS="$INSTALL_BASE/iso15118_ev_testing/lib/iso15118_ev_testing"
mkdir -p "$OUT"

trap cleanup EXIT
trap 'exit 130' INT TERM
bash "$ROOT/scripts/plc_link.sh" up "$EV_IFACE" "$SECC_NETNS"
log "ROS_DOMAIN_ID=$ROS_DOMAIN_ID; charger and EV node starting (logs in $OUT)"
"$TOOLS/charger_simulator" --netns "$SECC_NETNS" --interface secc0 --protocols ISO_15118_2 \
  --discharge-after-stop \
  >"$OUT/charger.log" 2>&1 &
PIDS+=($!)
# The simulator's Java codec can miss ISO 15118-2's 250 ms CurrentDemand timeout on a busy
# 2-core machine (a real charger answers within 25 ms); the demo gives it 1 s.
"$BIN/ev_node" --ros-args -p "plc_interface:=$EV_IFACE" \
  -p timeouts.iso2.current_demand_req:=1.0 >"$OUT/ev_node.log" 2>&1 &
PIDS+=($!)
wait_for_charger

status=0
SCENARIO="$INSTALL_BASE/iso15118_ev_testing/share/iso15118_ev_testing/scenarios/demo_dc_session.yaml"
"$TOOLS/session_monitor" --scenario "$SCENARIO" --plot "$OUT/session.png" \
  --mcap "$OUT/session.mcap" "$@" || status=$?
log "plot: $OUT/session.png; recording (Foxglove, PlotJuggler): $OUT/session.mcap"
log "logs: $OUT/ev_node.log, $OUT/charger.log"
exit "$status"
