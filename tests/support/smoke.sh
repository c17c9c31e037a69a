#!/usr/bin/env bash
# Smoke test of the test infrastructure against a real libvirtd (run as root, used in CI):
#   start the daemons (tests/support/libvirtd.sh), build the guest (tests/guest/build.sh),
#   define + start vireo-test-smoke and see "VIREO-GUEST: booted" on its serial log,
#   virsh shutdown -> shut off, start, virsh reboot -> booted again, managedsave + start
#   (restore), destroy, undefine, libvirtd.sh restart (SIGKILL + start) -> virsh list answers,
#   libvirtd.sh stop -> none of the daemons we started is left.
# Exits non-zero on the first failure, after printing the serial/QEMU/daemon logs.
#
# Environment: VIREO_TEST_STATE, VIREO_GUEST_DIR (see libvirtd.sh / build.sh),
#   VIREO_SMOKE_DIR       where the domain XML and serial log go (default: a temp dir)
#   VIREO_SMOKE_BOOT_TIMEOUT      seconds to wait for "booted" (default 90)
#   VIREO_SMOKE_SHUTDOWN_TIMEOUT  seconds to wait for shut off after virsh shutdown (default 30)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
daemons="$here/libvirtd.sh"
export VIREO_TEST_STATE=${VIREO_TEST_STATE:-/tmp/vireo-test-daemons}
BOOT_TIMEOUT=${VIREO_SMOKE_BOOT_TIMEOUT:-90}
SHUTDOWN_TIMEOUT=${VIREO_SMOKE_SHUTDOWN_TIMEOUT:-30}
NAME=vireo-test-smoke
URI=qemu:///system

passed=0
failed=0
step=setup
work=
serial=
started_daemons=0

say() { printf '[smoke] %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
v() { timeout 60 virsh -q -c "$URI" "$@"; }
ok() { passed=$((passed + 1)); say "PASS $step${1:+ ($1)}"; }

dump_logs() {
  say "---- diagnostics for step '$step' ----"
  if [ -n "$serial" ] && [ -f "$serial" ]; then
    say "serial log ($serial):"
    tail -n 40 "$serial" | sed 's/^/    /'
  fi
  if [ -n "$serial" ] && [ -f "/var/log/libvirt/qemu/$NAME.log" ]; then
    say "QEMU log (/var/log/libvirt/qemu/$NAME.log):"
    tail -n 15 "/var/log/libvirt/qemu/$NAME.log" | sed 's/^/    /'
  fi
  if [ -f "$VIREO_TEST_STATE/libvirtd.log" ]; then
    say "libvirtd log ($VIREO_TEST_STATE/libvirtd.log):"
    tail -n 15 "$VIREO_TEST_STATE/libvirtd.log" | sed 's/^/    /'
  fi
  "$daemons" status 2>&1 | sed 's/^/    status: /' || true
}

fail() {
  failed=$((failed + 1))
  say "FAIL $step: $*"
  dump_logs
  exit 1
}

on_exit() {
  local rc=$?
  set +e
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1
    say "FAIL $step: a command failed (exit $rc)"
    dump_logs
  fi
  # Leave nothing behind: our domain, and the daemons if this script started them.
  if [ "$step" != finished ]; then
    if timeout 10 virsh -c "$URI" version >/dev/null 2>&1; then
      "$daemons" cleanup-domains >/dev/null 2>&1
    fi
    [ "$started_daemons" = 1 ] && "$daemons" stop >/dev/null 2>&1
  fi
  [ -n "$work" ] && [ -z "${VIREO_SMOKE_DIR:-}" ] && rm -rf "$work"
  say "$passed passed, $failed failed"
  exit "$rc"
}
trap on_exit EXIT

pidfile() { tr -dc 0-9 2>/dev/null <"$VIREO_TEST_STATE/$1.pid" || true; }

count() { grep -c "$1" "$serial" 2>/dev/null || true; }

wait_count() { # pattern min-count timeout-seconds
  local deadline=$(($(date +%s) + $3))
  while [ "$(count "$1")" -lt "$2" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

state() { v domstate "$NAME" 2>/dev/null | sed -n 1p; }

wait_state() { # state timeout-seconds
  local deadline=$(($(date +%s) + $2))
  while [ "$(state)" != "$1" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

if [ "$(id -u)" -ne 0 ]; then
  echo "[smoke] must run as root (it starts the system libvirtd)" >&2
  exit 2
fi

# --- daemons --------------------------------------------------------------------------
step=start-daemons
if [ "$("$daemons" status | sed -n 1p)" = stopped ]; then
  started_daemons=1
fi
t=$(now)
"$daemons" start || fail "libvirtd.sh start failed"
v version >/dev/null || fail "$URI does not answer"
ok "$(since "$t")s, $("$daemons" status | sed -n 1p)"
owner=$("$daemons" status | sed -n 1p | cut -d' ' -f1)
libvirtd_pid=$(pidfile libvirtd)
virtlogd_pid=$(pidfile virtlogd)

# --- guest ----------------------------------------------------------------------------
step=build-guest
t=$(now)
"$repo/tests/guest/build.sh" || fail "tests/guest/build.sh failed"
ok "$(since "$t")s"

step=define
"$daemons" cleanup-domains >/dev/null 2>&1 || true
work=${VIREO_SMOKE_DIR:-$(mktemp -d /tmp/vireo-smoke.XXXXXX)}
chmod 0755 "$work"
xml=$("$repo/tests/guest/make-domain.sh" "$NAME" "$work" 2>/dev/null) || fail "make-domain.sh failed"
serial="$work/$NAME.serial.log"
v define "$xml" >/dev/null || fail "virsh define $xml"
ok

step=start-boot
t=$(now)
v start "$NAME" >/dev/null || fail "virsh start"
wait_count 'VIREO-GUEST: booted' 1 "$BOOT_TIMEOUT" || fail "no 'VIREO-GUEST: booted' within ${BOOT_TIMEOUT}s"
boot_time=$(since "$t")
ok "booted ${boot_time}s after virsh start; $(grep -m1 'VIREO-GUEST: info' "$serial" | sed 's/^VIREO-GUEST: info //')"

step=shutdown
t=$(now)
v shutdown "$NAME" >/dev/null || fail "virsh shutdown"
wait_state "shut off" "$SHUTDOWN_TIMEOUT" || fail "not shut off ${SHUTDOWN_TIMEOUT}s after virsh shutdown (state: $(state))"
shutdown_time=$(since "$t")
[ "$(count 'VIREO-GUEST: poweroff')" -ge 1 ] || fail "shut off, but the guest never printed 'VIREO-GUEST: poweroff'"
ok "shut off ${shutdown_time}s after virsh shutdown"

step=reboot
before=$(count 'VIREO-GUEST: booted')
t=$(now)
v start "$NAME" >/dev/null || fail "virsh start (second boot)"
wait_count 'VIREO-GUEST: booted' $((before + 1)) "$BOOT_TIMEOUT" || fail "second start: no 'booted' within ${BOOT_TIMEOUT}s"
boot2_time=$(since "$t")
t=$(now)
v reboot "$NAME" >/dev/null || fail "virsh reboot"
wait_count 'VIREO-GUEST: booted' $((before + 2)) "$BOOT_TIMEOUT" || fail "no new 'booted' within ${BOOT_TIMEOUT}s of virsh reboot"
reboot_time=$(since "$t")
[ "$(state)" = running ] || fail "after reboot the domain is '$(state)', not running"
ok "start->booted ${boot2_time}s, reboot->booted ${reboot_time}s"

step=managedsave-restore
t=$(now)
v managedsave "$NAME" >/dev/null || fail "virsh managedsave"
save_time=$(since "$t")
[ "$(state)" = "shut off" ] || fail "after managedsave the domain is '$(state)'"
# (Output captured first: with pipefail, `virsh | grep -q` fails when grep exits early.)
info=$(v dominfo "$NAME") || fail "virsh dominfo"
grep -Eq '^Managed save: +yes' <<<"$info" || fail "no managed save image after managedsave"
t=$(now)
v start "$NAME" >/dev/null || fail "virsh start (restore)"
restore_time=$(since "$t")
reason=$(v domstate "$NAME" --reason) || fail "virsh domstate"
grep -q 'running (restored)' <<<"$reason" || fail "domain not 'running (restored)': $reason"
# The restored guest must be alive, not just a running QEMU: it echoes a key press.
before=$(count 'VIREO-GUEST: input .*type=EV_KEY code=30 value=1')
v send-key "$NAME" KEY_A >/dev/null || fail "virsh send-key"
wait_count 'VIREO-GUEST: input .*type=EV_KEY code=30 value=1' $((before + 1)) 30 ||
  fail "the restored guest did not report the key press"
ok "save ${save_time}s, restore ${restore_time}s, guest answers input"

step=destroy-undefine
v destroy "$NAME" >/dev/null || fail "virsh destroy"
[ "$(state)" = "shut off" ] || fail "after destroy the domain is '$(state)'"
v undefine "$NAME" --managed-save --nvram >/dev/null || fail "virsh undefine"
v dominfo "$NAME" >/dev/null 2>&1 && fail "the domain still exists after undefine"
ok

# --- daemon restart -------------------------------------------------------------------
step=restart-daemon
if [ "$owner" = owned ]; then
  t=$(now)
  "$daemons" restart || fail "libvirtd.sh restart failed"
  new_pid=$(pidfile libvirtd)
  if [ -z "$new_pid" ] || [ "$new_pid" = "$libvirtd_pid" ]; then
    fail "libvirtd pid did not change ($libvirtd_pid -> $new_pid)"
  fi
  [ ! -d "/proc/$libvirtd_pid" ] || [ "$(sed 's/^.*) //' "/proc/$libvirtd_pid/stat" | cut -d' ' -f1)" = Z ] ||
    fail "the old libvirtd $libvirtd_pid is still running"
  v list --all >/dev/null || fail "virsh list does not answer after the restart"
  ok "libvirtd $libvirtd_pid killed, $new_pid answers after $(since "$t")s"
  libvirtd_pid=$new_pid
else
  say "SKIP $step: the daemon was already running and is not ours"
fi

# --- stop -----------------------------------------------------------------------------
step=stop-daemons
"$daemons" stop || fail "libvirtd.sh stop failed"
if [ "$owner" = owned ]; then
  for p in $libvirtd_pid $virtlogd_pid; do
    if [ -d "/proc/$p" ] && [ "$(sed 's/^.*) //' "/proc/$p/stat" | cut -d' ' -f1)" != Z ]; then
      fail "pid $p ($(cat "/proc/$p/comm" 2>/dev/null)) still running after stop"
    fi
  done
  [ ! -e "$VIREO_TEST_STATE" ] || fail "state dir $VIREO_TEST_STATE still exists"
  others=
  for p in $(pgrep -x libvirtd || true); do
    # Zombies of our own daemons are gone, only not yet reaped by their parent.
    [ "$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)" = Z ] || others="$others $p"
  done
  ok "libvirtd $libvirtd_pid and virtlogd ${virtlogd_pid:-(not ours)} gone${others:+; other libvirtd processes, not ours:$others}"
else
  ok "reused daemon left running"
fi

step=finished
say "timings: boot ${boot_time}s, shutdown ${shutdown_time}s, reboot ${reboot_time}s, managedsave ${save_time}s, restore ${restore_time}s"
