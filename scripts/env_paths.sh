# Paths of one ROS distribution's venv and colcon workspace. Sourced, not run.
# Usage: source scripts/env_paths.sh [kilted|jazzy]
case "${1:-kilted}" in
  kilted) _suffix="" ;;
  jazzy)  _suffix="-jazzy" ;;
  *) echo "unknown ROS distribution '$1' (kilted or jazzy)" >&2; return 2 ;;
esac
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
VENV="$ROOT/.venv$_suffix"
BUILD_BASE="$ROOT/build$_suffix"
INSTALL_BASE="$ROOT/install$_suffix"
LOG_BASE="$ROOT/log$_suffix"
unset _suffix
