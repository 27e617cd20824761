#!/usr/bin/env bash
# The README's second command: set up (idempotently) and run the test suite.
# Usage: scripts/test.sh [kilted|jazzy] [pytest args...]
set -euo pipefail
DISTRO="${1:-kilted}"; shift || true
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" "$DISTRO"
source "$ROOT/scripts/activate.sh" "$DISTRO"
export ISO15118_EV_INSTALL_BASE="$INSTALL_BASE"
export TEST_LOG_DIR="$ROOT/out/test-logs-$DISTRO"
export ISO15118_EV_REPO="$ROOT"
# One pytest run per package: the library's (no ROS), the test charger's, then the node's.
# TEST_PACKAGES narrows the list (CI runs the ROS-free library once, not once per distro).
status=0
for package in ${TEST_PACKAGES:-iso15118_ev iso15118_ev_testing iso15118_ev_ros}; do
  echo "=== $package ==="
  (cd "$ROOT/$package" && python -m pytest -p no:cacheprovider test "$@") || status=1
done
exit $status
