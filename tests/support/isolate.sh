#!/usr/bin/env bash
# Usage: tests/support/isolate.sh COMMAND [ARG...]
#
# Runs COMMAND in private mount + network namespaces in which libvirt's runtime, config,
# state, log and cache directories are private, so that a libvirtd started inside (e.g. by
# tests/support/libvirtd.sh or smoke.sh) cannot collide with another libvirtd on the same
# machine: its sockets in /run/libvirt, its domain definitions, save images and VNC ports
# (the private network namespace has only its own loopback) are its own. Still shared:
# PIDs and cgroups (/sys/fs/cgroup/*/machine/qemu-ID-NAME.libvirt-qemu), so two daemons
# should not run domains of the same name at the same time.
#
# Only needed when several sessions share one machine, each with its own libvirtd; CI, with
# one daemon per machine, runs the scripts directly. The network namespace has no route out:
# build the guest first (tests/guest/build.sh downloads packages).
#
# Example:  tests/guest/build.sh && tests/support/isolate.sh tests/support/smoke.sh
#
# Environment:
#   VIREO_ISOLATE_DIR  where the private directories live (default /tmp/vireo-isolated).
#                      Reusing it across calls keeps a daemon reachable: a daemon started by
#                      one call keeps running, and a later call sees its sockets through the
#                      same directories (the daemon stays in the network namespace of the
#                      call that started it, so its VNC ports are reachable only from there).
#   VIREO_TEST_STATE   defaults to $VIREO_ISOLATE_DIR/state here, so that it is never shared
#                      with a daemon outside.
set -euo pipefail

if [ $# -eq 0 ]; then
  sed -n '2p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "isolate.sh: must run as root (it creates namespaces and bind mounts)" >&2
  exit 2
fi

base=${VIREO_ISOLATE_DIR:-/tmp/vireo-isolated}
if [ ! -d "$base/etc" ]; then
  mkdir -p "$base"
  # Stock configuration, without the host's domains, networks' state or autostart links.
  cp -a /etc/libvirt "$base/etc"
  find "$base/etc/qemu" -maxdepth 1 -name '*.xml' -delete 2>/dev/null || true
  rm -rf "$base/etc/qemu/autostart"
  mkdir -p "$base/run" "$base/log" "$base/cache" "$base/lib/images" "$base/lib/boot"
  install -d -m 0750 -o libvirt-qemu -g libvirt-qemu "$base/lib/qemu"
fi

# The state dir of tests/support/libvirtd.sh must not be shared with a daemon outside.
export VIREO_TEST_STATE=${VIREO_TEST_STATE:-$base/state}
export VIREO_ISOLATE_BASE=$base
# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare --mount --net --propagation private bash -c '
  set -e
  b=$VIREO_ISOLATE_BASE
  ip link set lo up
  mkdir -p /run/libvirt /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
  mount --bind "$b/run" /run/libvirt
  mount --bind "$b/etc" /etc/libvirt
  mount --bind "$b/lib" /var/lib/libvirt
  mount --bind "$b/log" /var/log/libvirt
  mount --bind "$b/cache" /var/cache/libvirt
  unset VIREO_ISOLATE_BASE
  exec "$@"' isolate "$@"
