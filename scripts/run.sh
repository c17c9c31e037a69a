#!/usr/bin/env bash
# Builds and runs Vireo. On a fresh Debian 12 machine (as root) it first installs what it
# needs. Arguments are passed to `vireo` (e.g. --connect qemu:///session).
# As root with no libvirtd answering, it starts one (stopped again when Vireo exits);
# otherwise, when libvirtd cannot be reached, it opens libvirt's built-in demo driver.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-deps.sh
cargo build --bin vireo --bin vireoctl --bin vireo-helper

args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then uri=qemu:///system; else uri=qemu:///session; fi
  if virsh -c "$uri" version >/dev/null 2>&1; then
    args=(--connect "$uri")
  elif [ "$(id -u)" -eq 0 ]; then
    echo "[run] libvirtd is not running: starting it for this session"
    export VIREO_TEST_STATE=${VIREO_RUN_STATE:-/run/vireo-dev-daemons}
    tests/support/libvirtd.sh start
    trap 'tests/support/libvirtd.sh stop' EXIT
    args=(--connect "$uri")
  else
    echo "[run] libvirtd cannot be reached at $uri: opening the demo connection test:///default"
    echo "[run] (start libvirtd and add yourself to the 'libvirt' group to manage real VMs)"
    args=(--connect test:///default)
  fi
fi

launch=(target/debug/vireo "${args[@]}")
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "[run] no display found: running Vireo on a virtual X server (xvfb-run)."
  echo "[run] screenshot: xwd -root -display \$DISPLAY | convert xwd:- vireo.png"
  export GSK_RENDERER=${GSK_RENDERER:-cairo}
  launch=(xvfb-run -a -s '-screen 0 1280x800x24' dbus-run-session -- "${launch[@]}")
fi
# No exec: the EXIT trap must stop a libvirtd this script started.
"${launch[@]}"
