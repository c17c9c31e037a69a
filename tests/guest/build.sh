#!/usr/bin/env bash
# Builds the tiny Vireo test guest: a Debian kernel plus a busybox initramfs, for
# direct kernel boot under TCG (see tests/guest/domain.xml.in and tests/guest/init).
#
# Outputs, in ${VIREO_GUEST_DIR:-<repo>/target/test-guest}:
#   vmlinuz          the current bookworm linux-image-*-amd64 kernel (bzImage, as shipped)
#   vmlinux          the same kernel uncompressed (ELF, booted through its PVH entry point).
#                    QEMU boots it ~5 s faster under TCG: decompressing the xz bzImage in
#                    emulated real/protected mode is the slowest part of the boot. Only
#                    written when the kernel has CONFIG_PVH=y; make-domain.sh prefers it.
#   initrd.cpio.gz   busybox-static, /init and the few modules the guest needs
#   stamp            package versions + recipe checksum; while it matches, a run does nothing
#
# Packages are fetched with `apt-get download` (nothing is installed into the system).
# Host tools: apt-get, apt-cache, dpkg-deb, tar, gzip, sha256sum, flock; xz/zstd only if
# the kernel ships compressed modules. The cpio archive is written by the downloaded busybox.
#
# Environment:
#   VIREO_GUEST_DIR          output/cache directory
#   VIREO_GUEST_KERNEL_PKG   kernel package to use instead of the one linux-image-amd64 points at
#   VIREO_GUEST_FORCE=1      rebuild even if the stamp matches
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${VIREO_GUEST_DIR:-$repo/target/test-guest}

log() { printf '[guest] %s\n' "$*" >&2; }
die() { printf '[guest] error: %s\n' "$*" >&2; exit 1; }

# Kernel options the guest needs, and the module each one is when not built in.
# Machine `pc` (see domain.xml.in): 8250 serial console, ACPI power button, AT keyboard
# (atkbd/i8042, built in on Debian), USB tablet on the default piix3-uhci controller.
# The test domain has no virtio devices (no disk, no network, memballoon none), so no
# virtio modules are included.
NEEDED=(
  "CONFIG_SERIAL_8250:8250"
  "CONFIG_SERIAL_8250_CONSOLE:"
  "CONFIG_BLK_DEV_INITRD:"
  "CONFIG_RD_GZIP:"
  "CONFIG_DEVTMPFS:"
  "CONFIG_ACPI:"
  "CONFIG_ACPI_BUTTON:button"
  "CONFIG_INPUT_EVDEV:evdev"
  "CONFIG_SERIO_I8042:i8042"
  "CONFIG_KEYBOARD_ATKBD:atkbd"
  "CONFIG_USB:usbcore"
  "CONFIG_USB_UHCI_HCD:uhci-hcd"
  "CONFIG_HID:hid"
  "CONFIG_USB_HID:usbhid"
  "CONFIG_HID_GENERIC:hid-generic"
)

mkdir -p "$out"
out=$(cd "$out" && pwd)

# Several test processes may ask for the guest at once: build it once.
exec 9>"$out/.lock"
flock 9

# --- which packages --------------------------------------------------------------------
# One apt-cache call (each one reloads the package lists for ~1 s: this image disables
# apt's binary cache). The metapackage's candidate depends on the exact kernel version:
#   Package: linux-image-amd64 / Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)
kpkg=${VIREO_GUEST_KERNEL_PKG:-}
info=$(apt-cache show --no-all-versions "${kpkg:-linux-image-amd64}" busybox-static 2>/dev/null || true)
field() { # package field -> value from $info
  printf '%s\n' "$info" | awk -v p="$1" -v f="$2:" '
    /^Package:/ {cur = $2}
    cur == p && $1 == f {sub(/^[^:]*: */, ""); print; exit}'
}
kver=
if [ -z "$kpkg" ]; then
  dep=$(field linux-image-amd64 Depends | tr ',' '\n' | grep -Eo 'linux-image-[0-9][^ ]*-amd64 \(= [^)]*\)' | sed -n 1p || true)
  kpkg=${dep%% *}
  kver=${dep##*= }
  kver=${kver%)}
else
  kver=$(field "$kpkg" Version)
fi
bbver=$(field busybox-static Version)
recipe=$(cat "${BASH_SOURCE[0]}" "$here/init" | sha256sum | cut -d' ' -f1)

if [ -z "$kpkg" ] || [ -z "$kver" ] || [ -z "$bbver" ]; then
  if [ -s "$out/stamp" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.cpio.gz" ]; then
    log "warning: apt cannot resolve the guest packages (no package lists?); reusing the existing build"
    exit 0
  fi
  die "cannot resolve the kernel ('${kpkg:-linux-image-amd64 -> ?}' version '${kver:-?}') or busybox-static ('${bbver:-?}') with apt-cache; run 'apt-get update' first"
fi

stamp="kernel=$kpkg $kver
busybox=busybox-static $bbver
recipe=$recipe"

if [ "${VIREO_GUEST_FORCE:-0}" != 1 ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.cpio.gz" ] &&
  [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  log "up to date ($kpkg $kver, busybox $bbver) in $out"
  exit 0
fi

log "building in $out: $kpkg $kver, busybox-static $bbver"
start=$(date +%s)
# Until the new stamp is written at the very end, the outputs count as stale.
rm -f "$out/stamp"

# --- download --------------------------------------------------------------------------
debs="$out/debs"
mkdir -p "$debs"
cached_deb() { # package version -> path of a cached .deb of exactly that version
  local d
  for d in "$debs/$1"_*.deb; do
    [ -f "$d" ] && [ "$(dpkg-deb -f "$d" Version 2>/dev/null)" = "$2" ] && { echo "$d"; return 0; }
  done
  return 0
}
fetch() { # package version -> path of the .deb
  local pkg=$1 ver=$2 f d
  f=$(cached_deb "$pkg" "$ver")
  if [ -z "$f" ]; then
    log "downloading $pkg=$ver"
    # APT::Sandbox::User=root: the _apt user cannot write into a root-owned cache dir.
    if ! (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2); then
      die "apt-get download $pkg=$ver failed (is a Debian mirror reachable? try 'apt-get update')"
    fi
    f=$(cached_deb "$pkg" "$ver")
    [ -n "$f" ] || die "apt-get download $pkg=$ver produced no .deb in $debs"
  fi
  # Keep only the current version of each package in the cache.
  for d in "$debs/$pkg"_*.deb; do
    [ -f "$d" ] && [ "$d" != "$f" ] && rm -f "$d"
  done
  echo "$f"
}
kdeb=$(fetch "$kpkg" "$kver")
bbdeb=$(fetch busybox-static "$bbver")

# --- extract ---------------------------------------------------------------------------
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$kdeb" "$work/kernel" || die "cannot extract $kdeb"
dpkg-deb -x "$bbdeb" "$work/busybox" || die "cannot extract $bbdeb"

vmlinuz=$(find "$work/kernel/boot" -maxdepth 1 -name 'vmlinuz-*' | sed -n 1p)
config=$(find "$work/kernel/boot" -maxdepth 1 -name 'config-*' | sed -n 1p)
[ -n "$vmlinuz" ] || die "$kdeb has no boot/vmlinuz-*"
[ -n "$config" ] || die "$kdeb has no boot/config-*"
krel=${vmlinuz##*/vmlinuz-}
moddir=$(find "$work/kernel" -maxdepth 3 -type d -path "*/modules/$krel" | sed -n 1p)
busybox="$work/busybox/bin/busybox"
[ -x "$busybox" ] || die "$bbdeb has no bin/busybox"

# --- modules ---------------------------------------------------------------------------
root="$work/root"
mkdir -p "$root"/{bin,dev,etc,lib/modules,proc,run,sys,tmp}
ln -s bin "$root/sbin"

declare -A modfile=() loaded=()
if [ -n "$moddir" ]; then
  while IFS= read -r f; do
    base=${f##*/}
    base=${base%%.ko*}
    modfile[${base//-/_}]=$f
  done < <(find "$moddir" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
fi
order=()

decompress() { # src dst
  case $1 in
    *.ko) cp "$1" "$2" ;;
    *.ko.xz) if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else "$busybox" unxz -c "$1" >"$2"; fi ;;
    *.ko.gz) gzip -dc "$1" >"$2" ;;
    *.ko.zst) command -v zstd >/dev/null || die "zstd is needed to decompress $1 (apt-get install zstd)"
      zstd -qdc "$1" >"$2" ;;
  esac
}

add_module() { # module name (dashes or underscores); dependencies first
  local key=${1//-/_} src dst deps dep
  [ -n "${loaded[$key]:-}" ] && return 0
  loaded[$key]=1
  src=${modfile[$key]:-}
  [ -n "$src" ] || die "module $1 not found in $kpkg"
  dst="$root/lib/modules/$key.ko"
  decompress "$src" "$dst" || die "cannot decompress $src"
  deps=$(tr '\0' '\n' <"$dst" | sed -n 's/^depends=//p' | sed -n 1p)
  for dep in ${deps//,/ }; do
    add_module "$dep"
  done
  order+=("$key.ko")
}

for entry in "${NEEDED[@]}"; do
  sym=${entry%%:*}
  mod=${entry#*:}
  val=$(sed -n "s/^$sym=//p" "$config")
  case $val in
    y) ;;
    m) [ -n "$mod" ] || die "$sym=m in $config but the guest needs it built in"
      add_module "$mod" ;;
    *) die "$sym is not set in $config: the guest needs it" ;;
  esac
done
printf '%s\n' "${order[@]}" >"$root/etc/vireo-modules"
log "modules: ${order[*]:-(all built in)}"

# --- initramfs -------------------------------------------------------------------------
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
install -m 0755 "$here/init" "$root/init"
# The kernel opens /dev/console before running /init. Creating the node needs root;
# without it /init reopens the console from devtmpfs, only losing its first messages.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || log "note: cannot mknod dev/console (not root?)"
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null) | gzip -9n >"$work/initrd.cpio.gz"
[ -s "$work/initrd.cpio.gz" ] || die "cpio produced an empty initramfs"

# --- uncompressed kernel for PVH boot ------------------------------------------------------
extract_vmlinux() { # bzImage -> ELF vmlinux on stdout (like the kernel's scripts/extract-vmlinux)
  local magic tool off
  for spec in '\xfd7zXZ\x00:xz --single-stream -dc' '\x28\xb5\x2f\xfd:zstd -qdc' '\x1f\x8b\x08:gzip -dc'; do
    magic=${spec%%:*}
    tool=${spec#*:}
    command -v "${tool%% *}" >/dev/null || continue
    off=$(LC_ALL=C grep -m1 -obUaP "$magic" "$1" | sed -n 1p | cut -d: -f1) || true
    [ -n "$off" ] || continue
    # gzip/zstd complain about the data after the stream; the ELF check below decides.
    tail -c +$((off + 1)) "$1" | $tool 2>/dev/null || true
    return 0
  done
}
if grep -q '^CONFIG_PVH=y' "$config"; then
  extract_vmlinux "$vmlinuz" >"$work/vmlinux"
  if [ "$(head -c 4 "$work/vmlinux" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
    chmod 0644 "$work/vmlinux"
    mv -f "$work/vmlinux" "$out/vmlinux"
  else
    rm -f "$out/vmlinux"
    log "note: could not extract an uncompressed vmlinux; domains will boot the slower bzImage"
  fi
else
  rm -f "$out/vmlinux"
  log "note: kernel has no CONFIG_PVH, domains will boot the bzImage"
fi

cp "$vmlinuz" "$work/vmlinuz"
chmod 0644 "$work/vmlinuz" "$work/initrd.cpio.gz"
mv -f "$work/vmlinuz" "$out/vmlinuz"
mv -f "$work/initrd.cpio.gz" "$out/initrd.cpio.gz"
cp "$config" "$out/kernel-config"
printf '%s\n' "$stamp" >"$out/stamp"
size() { du -h --apparent-size "$1" 2>/dev/null | cut -f1; }
log "built in $(($(date +%s) - start))s: $out/{vmlinuz ($(size "$out/vmlinuz")), vmlinux ($(size "$out/vmlinux")), initrd.cpio.gz ($(size "$out/initrd.cpio.gz"))}"
