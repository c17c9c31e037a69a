#!/usr/bin/env bash
# Test fixture: a real libvirtd with the QEMU driver, reachable as qemu:///system.
#
# Usage: tests/support/libvirtd.sh start | stop [--keep-domains] | restart [--graceful]
#                                  | status | cleanup-domains [DIR...]
#
#   start            Reuse a daemon that already answers on qemu:///system (and record that it
#                    is not ours), or start virtlogd + libvirtd with private config files from
#                    the state dir and wait until qemu:///system answers.
#   stop             Destroy/undefine the vireo-test-* domains (unless --keep-domains), then
#                    stop the daemons this script started, by PID (TERM, then KILL after
#                    VIREO_TEST_STOP_TIMEOUT s); a reused daemon is left alone. Removes the state.
#   restart          SIGKILL our libvirtd (a crash; --graceful: TERM, then KILL after the
#                    timeout) and start it again; running domains survive. Exit 3 if the
#                    daemon is not ours.
#   status           "owned" or "reused" (or "stopped") plus the PIDs.
#   cleanup-domains  Destroy and undefine (--managed-save --nvram) every vireo-test-* domain
#                    and remove its NAME.xml / NAME.serial.log from the directory of its
#                    serial log and from each DIR given.
#
# Environment:
#   VIREO_TEST_STATE          state dir (default /tmp/vireo-test-daemons): pids, configs, logs
#   VIREO_TEST_START_TIMEOUT  seconds to wait for qemu:///system to answer (default 30)
#   VIREO_TEST_STOP_TIMEOUT   seconds between TERM and KILL (default 5; see below)
#   VIREO_TEST_LOG_LEVEL      libvirt log level for the daemon logs, 1 (debug) .. 4 (default 3)
#
# Exit codes: 0 ok, 1 failure, 2 usage / not root, 3 restart refused (daemon not ours).
#
# libvirt configuration: none of /etc/libvirt is edited. The daemons run with private
# libvirtd.conf / virtlogd.conf (--config) that only redirect their logs into the state dir.
# The stock qemu.conf works in this container as is (checked with libvirt 11.3 / QEMU 10.0
# from bookworm-backports, no systemd, cgroup v1, no AppArmor/SELinux): the security driver
# resolves to "none" + DAC, the per-domain mount namespace works, and cgroups are created
# directly under /sys/fs/cgroup/*/machine (no machined needed). So nothing in qemu.conf needs
# to change, which matters because a privileged libvirtd has no option to read another one.
set -euo pipefail

STATE=${VIREO_TEST_STATE:-/tmp/vireo-test-daemons}
URI=qemu:///system
START_TIMEOUT=${VIREO_TEST_START_TIMEOUT:-30}
# libvirtd 11.3 sometimes never exits after SIGTERM: its shutdown thread joins the nodedev
# "udev-event" thread while holding the lock that thread needs to wake up (seen with gdb:
# virStateShutdownWait -> pthread_join vs. virCondWait relocking). A clean shutdown takes
# well under a second, and libvirt is built to survive SIGKILL (domain state is on disk,
# QEMU keeps running), so the KILL fallback comes soon.
STOP_TIMEOUT=${VIREO_TEST_STOP_TIMEOUT:-5}
LOG_LEVEL=${VIREO_TEST_LOG_LEVEL:-3}
LIBVIRTD=${LIBVIRTD:-/usr/sbin/libvirtd}
VIRTLOGD=${VIRTLOGD:-/usr/sbin/virtlogd}
# libvirt skips network autostart while this marker exists (it is how it avoids
# autostarting twice per boot). The tests need no network, and starting the `default`
# network would need dnsmasq and iptables.
NET_AUTOSTART_MARKER=/run/libvirt/network/autostarted

log() { printf '[libvirtd.sh] %s\n' "$*" >&2; }
die() { printf '[libvirtd.sh] error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '4,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

virsh_q() { timeout 10 virsh -q -c "$URI" "$@"; }
answers() { timeout 10 virsh -c "$URI" version >/dev/null 2>&1; }

read_pid() { # file -> pid on stdout, or nothing
  local p
  [ -s "$1" ] || return 0
  p=$(tr -dc '0-9' <"$1")
  [ -n "$p" ] && echo "$p"
  return 0
}

# True when PID is alive and is the given program (guards against PID reuse).
is_prog() { # pid program-path
  local exe
  [ -n "$1" ] && [ -d "/proc/$1" ] || return 1
  exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)}
  [ "${exe##*/}" = "${2##*/}" ]
}

# True when PID exists and is not a zombie (a killed daemon may linger as one until
# whoever started the shell that forked it reaps it).
alive() {
  local st
  [ -r "/proc/$1/stat" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

kill_pid() { # pid program mode(term|kill) -> waits until gone
  local pid=$1 prog=$2 mode=$3 waited=0
  is_prog "$pid" "$prog" || return 0
  if [ "$mode" = term ]; then
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid" && [ "$waited" -lt $((STOP_TIMEOUT * 10)) ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if alive "$pid"; then
      log "${prog##*/} ($pid) did not exit ${STOP_TIMEOUT}s after TERM, sending KILL"
    fi
  fi
  if alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    waited=0
    while alive "$pid" && [ "$waited" -lt 100 ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    alive "$pid" && die "${prog##*/} ($pid) survived SIGKILL"
  fi
  return 0
}

require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    printf '[libvirtd.sh] error: must run as root: the tests use the system daemon (qemu:///system), which only root may start\n' >&2
    exit 2
  fi
}

# PIDs of the running processes named $1 that share our mount namespace (a daemon in
# another namespace, e.g. another container's, has its own /run/libvirt).
same_ns_pids() {
  local p me
  me=$(readlink /proc/self/ns/mnt 2>/dev/null || true)
  for p in $(pgrep -x "$1" 2>/dev/null || true); do
    alive "$p" || continue
    [ "$(readlink "/proc/$p/ns/mnt" 2>/dev/null || true)" = "$me" ] && echo "$p"
  done
  return 0
}

owned() { [ "$(cat "$STATE/owner" 2>/dev/null)" = owned ]; }

write_configs() {
  cat >"$STATE/libvirtd.conf" <<EOF
# Written by tests/support/libvirtd.sh; used with libvirtd --config.
log_outputs = "$LOG_LEVEL:file:$STATE/libvirtd.log"
EOF
  cat >"$STATE/virtlogd.conf" <<EOF
# Written by tests/support/libvirtd.sh; used with virtlogd --config.
log_outputs = "$LOG_LEVEL:file:$STATE/virtlogd.log"
EOF
}

prepare_runtime() {
  for f in "$LIBVIRTD" "$VIRTLOGD"; do
    [ -x "$f" ] || die "$f not found: install libvirt-daemon-system (scripts/setup-deps.sh)"
  done
  command -v virsh >/dev/null || die "virsh not found: install libvirt-clients (scripts/setup-deps.sh)"
  command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found: install qemu-system-x86"
  getent passwd libvirt-qemu >/dev/null ||
    die "user libvirt-qemu missing (created by the libvirt-daemon-system package's postinst)"
  # Normally made by systemd-tmpfiles / the packages; a container may lack them (/run is
  # empty after a restart of the container). Existing directories are left as they are.
  mkdir -p /run/libvirt /run/libvirt/network /var/log/libvirt/qemu /var/cache/libvirt/qemu \
    /var/lib/libvirt/images /var/lib/libvirt/boot
  if [ ! -d /var/lib/libvirt/qemu ]; then
    install -d -m 0750 -o libvirt-qemu -g libvirt-qemu /var/lib/libvirt/qemu
  fi
  if [ ! -e "$NET_AUTOSTART_MARKER" ]; then
    : >"$NET_AUTOSTART_MARKER"
    echo "$NET_AUTOSTART_MARKER" >"$STATE/created-marker"
  fi
}

start_virtlogd() {
  local pid
  pid=$(read_pid "$STATE/virtlogd.pid")
  if is_prog "$pid" "$VIRTLOGD" && alive "$pid"; then
    return 0
  fi
  if [ -S /run/libvirt/virtlogd-sock ] && [ -n "$(same_ns_pids virtlogd)" ]; then
    # Someone else's virtlogd serves the socket: use it, never stop it.
    log "using the virtlogd that is already running (not ours)"
    rm -f "$STATE/virtlogd.pid"
    return 0
  fi
  rm -f "$STATE/virtlogd.pid"
  if ! "$VIRTLOGD" --daemon --config "$STATE/virtlogd.conf" --pid-file "$STATE/virtlogd.pid" \
    </dev/null >>"$STATE/virtlogd.stderr" 2>&1; then
    tail -n 20 "$STATE/virtlogd.log" "$STATE/virtlogd.stderr" >&2 2>/dev/null || true
    die "virtlogd failed to start"
  fi
}

start_libvirtd() { # waits until qemu:///system answers
  local t0 pid deadline
  t0=$(date +%s.%N)
  rm -f "$STATE/libvirtd.pid"
  # --daemon returns once the daemon has initialised (or failed to).
  if ! "$LIBVIRTD" --daemon --config "$STATE/libvirtd.conf" --pid-file "$STATE/libvirtd.pid" \
    </dev/null >>"$STATE/libvirtd.stderr" 2>&1; then
    log "libvirtd failed to start; log tail:"
    tail -n 30 "$STATE/libvirtd.log" "$STATE/libvirtd.stderr" >&2 2>/dev/null || true
    return 1
  fi
  deadline=$(($(date +%s) + START_TIMEOUT))
  while ! answers; do
    pid=$(read_pid "$STATE/libvirtd.pid")
    if [ -n "$pid" ] && ! alive "$pid"; then
      log "libvirtd ($pid) exited during startup; log tail:"
      tail -n 30 "$STATE/libvirtd.log" "$STATE/libvirtd.stderr" >&2 2>/dev/null || true
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "$URI did not answer within ${START_TIMEOUT}s; libvirtd log tail:"
      tail -n 30 "$STATE/libvirtd.log" "$STATE/libvirtd.stderr" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.2
  done
  log "libvirtd $(read_pid "$STATE/libvirtd.pid") answers on $URI after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
}

cmd_start() {
  require_root
  mkdir -p "$STATE"
  local pid
  if owned; then
    pid=$(read_pid "$STATE/libvirtd.pid")
    if is_prog "$pid" "$LIBVIRTD" && alive "$pid"; then
      if answers; then
        log "already running (ours, libvirtd $pid)"
        return 0
      fi
      die "our libvirtd ($pid) is running but does not answer on $URI (logs in $STATE); try restart"
    fi
    # Stale state: our libvirtd is gone. Start over, without leaking our virtlogd.
    log "our libvirtd ${pid:+($pid) }is gone; starting again"
    pid=$(read_pid "$STATE/virtlogd.pid")
    [ -n "$pid" ] && kill_pid "$pid" "$VIRTLOGD" term
    rm -f "$STATE/owner" "$STATE/virtlogd.pid" "$STATE/libvirtd.pid"
  fi
  if answers; then
    echo reused >"$STATE/owner"
    log "reusing the libvirtd that already answers on $URI (not ours: stop/restart will not touch it)"
    return 0
  fi
  pid=$(same_ns_pids libvirtd | sed -n 1p)
  if [ -n "$pid" ]; then
    die "a libvirtd (pid $pid) is running but does not answer on $URI; it is not ours, stop it first"
  fi
  prepare_runtime
  write_configs
  echo owned >"$STATE/owner"
  start_virtlogd
  start_libvirtd || die "libvirtd did not come up (state and logs in $STATE)"
}

cmd_stop() {
  require_root
  local keep=0 pid
  case ${1:-} in --keep-domains) keep=1 ;; '') ;; *) usage ;; esac
  if [ ! -d "$STATE" ] || [ ! -s "$STATE/owner" ]; then
    log "nothing to stop (no state in $STATE)"
    return 0
  fi
  if [ "$keep" = 0 ] && answers; then
    cmd_cleanup_domains || log "warning: cleaning up the test domains failed"
  fi
  if owned; then
    pid=$(read_pid "$STATE/libvirtd.pid")
    [ -n "$pid" ] && kill_pid "$pid" "$LIBVIRTD" term
    pid=$(read_pid "$STATE/virtlogd.pid")
    [ -n "$pid" ] && kill_pid "$pid" "$VIRTLOGD" term
    if [ -s "$STATE/created-marker" ]; then
      rm -f "$(cat "$STATE/created-marker")"
    fi
    log "stopped our daemons"
  else
    log "the daemon was reused, not ours: leaving it running"
  fi
  rm -rf "$STATE"
}

cmd_restart() {
  require_root
  local graceful=0 pid t0
  case ${1:-} in --graceful) graceful=1 ;; '') ;; *) usage ;; esac
  if ! owned; then
    if [ -s "$STATE/owner" ]; then
      echo "[libvirtd.sh] refusing to restart: the libvirtd on $URI was not started by this script (it was reused; state: $STATE)" >&2
    else
      echo "[libvirtd.sh] refusing to restart: no libvirtd started by this script (no state in $STATE; run start first)" >&2
    fi
    exit 3
  fi
  pid=$(read_pid "$STATE/libvirtd.pid")
  if is_prog "$pid" "$LIBVIRTD"; then
    if [ "$graceful" = 1 ]; then
      log "stopping libvirtd $pid (TERM)"
      kill_pid "$pid" "$LIBVIRTD" term
    else
      log "killing libvirtd $pid (SIGKILL, simulated crash)"
      kill_pid "$pid" "$LIBVIRTD" kill
    fi
  else
    log "libvirtd is not running; starting it"
  fi
  # virtlogd normally survives; bring it back if it did not.
  start_virtlogd
  start_libvirtd || die "libvirtd did not come back (state and logs in $STATE)"
}

cmd_status() {
  local l v
  if [ ! -s "$STATE/owner" ]; then
    echo "stopped"
    answers && echo "note: something else answers on $URI"
    return 0
  fi
  if owned; then
    l=$(read_pid "$STATE/libvirtd.pid")
    v=$(read_pid "$STATE/virtlogd.pid")
    if ! is_prog "$l" "$LIBVIRTD" || ! alive "$l"; then l="$l(dead)"; fi
    if [ -z "$v" ]; then
      v="(not ours)"
    elif ! is_prog "$v" "$VIRTLOGD" || ! alive "$v"; then
      v="$v(dead)"
    fi
    echo "owned libvirtd=$l virtlogd=$v"
  else
    echo "reused libvirtd=$(same_ns_pids libvirtd | tr '\n' ' ' | sed 's/ $//')"
  fi
  if answers; then echo "answers=yes"; else echo "answers=no"; fi
}

cmd_cleanup_domains() {
  require_root
  local dom xml logf d failed=0
  local -a dirs
  while read -r dom; do
    [ -n "$dom" ] || continue
    case $dom in vireo-test-*) ;; *) continue ;; esac
    dirs=("$@")
    xml=$(virsh_q dumpxml --inactive "$dom" 2>/dev/null || true)
    logf=$(printf '%s\n' "$xml" | sed -n "s/.*<log file='\([^']*\)'.*/\1/p;s/.*<source path='\([^']*\.serial\.log\)'.*/\1/p" | sed -n 1p)
    [ -n "$logf" ] && dirs+=("$(dirname "$logf")")
    if [ "$(virsh_q domstate "$dom" 2>/dev/null)" != "shut off" ]; then
      virsh_q destroy "$dom" >/dev/null 2>&1 || true
    fi
    if virsh_q dominfo "$dom" >/dev/null 2>&1; then
      if ! virsh_q undefine "$dom" --managed-save --nvram --snapshots-metadata >/dev/null 2>&1 &&
        ! virsh_q undefine "$dom" --managed-save --snapshots-metadata >/dev/null 2>&1 &&
        virsh_q dominfo "$dom" >/dev/null 2>&1; then
        log "could not undefine $dom"
        failed=1
      fi
    fi
    for d in "${dirs[@]}"; do
      rm -f "$d/$dom.xml" "$d/$dom.serial.log"
    done
    log "removed domain $dom"
  done < <(virsh_q list --all --name 2>/dev/null || die "cannot list domains on $URI")
  return "$failed"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  restart) cmd_restart "$@" ;;
  status) cmd_status "$@" ;;
  cleanup-domains) cmd_cleanup_domains "$@" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
