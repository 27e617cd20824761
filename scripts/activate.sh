# Puts one ROS distribution's venv and built workspace on this shell's paths. Sourced, not run.
# Usage: source scripts/activate.sh [kilted|jazzy]
_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$_dir/.." && pwd)"
source "$_dir/env_paths.sh" "${1:-kilted}" || return 2
if [ ! -f "$INSTALL_BASE/setup.bash" ]; then
  echo "not built yet: run scripts/setup.sh ${1:-kilted}" >&2; return 2
fi
source "$VENV/bin/activate"
export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
# colcon's setup scripts leave unset variables alone only when not in nounset mode.
set +u
source "$INSTALL_BASE/setup.bash"
unset _dir
