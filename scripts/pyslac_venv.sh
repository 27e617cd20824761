#!/usr/bin/env bash
# A separate venv for pyslac (the charger side of SLAC, a TEST peer only).
# pyslac 0.8 pins environs<10 while the iso15118 package of the project venv needs environs>=14,
# so the two cannot share one venv. Idempotent; prints the venv's python on its last line.
# Usage: scripts/pyslac_venv.sh [VENV_DIR]      (default: <repo>/.venv-pyslac)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$ROOT/.venv-pyslac}"
WANT='pyslac==0.8.3 environs==9.5.0 marshmallow<4'
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ "$(cat "$VENV/.wanted" 2>/dev/null)" != "$WANT" ]; then
  "$VENV/bin/pip" install -q $WANT 2>&1 | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -c 'import pyslac.messages, pyslac.session'
  echo "$WANT" > "$VENV/.wanted"
fi
echo "$VENV/bin/python"
