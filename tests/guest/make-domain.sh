#!/usr/bin/env bash
# Usage: tests/guest/make-domain.sh NAME OUTDIR
# Builds the test guest if needed (tests/guest/build.sh, cached), writes OUTDIR/NAME.xml from
# tests/guest/domain.xml.in and prints its path. The serial console log of the domain is
# OUTDIR/NAME.serial.log (appended to across boots; the file is created empty here).
# NAME should start with "vireo-test-" so that `tests/support/libvirtd.sh cleanup-domains`
# removes it.
#
# Environment: VIREO_GUEST_DIR (as build.sh), VIREO_GUEST_KERNEL=vmlinux|vmlinuz (default:
# vmlinux, the uncompressed PVH kernel, when build.sh could make it; it boots ~5 s faster).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 NAME OUTDIR" >&2
  exit 2
fi
name=$1
outdir=$2
case $name in
  *[!A-Za-z0-9_.-]* | '') echo "make-domain: invalid domain name '$name'" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
guest=${VIREO_GUEST_DIR:-$repo/target/test-guest}

"$here/build.sh" >&2

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
guest=$(cd "$guest" && pwd)
kernel=${VIREO_GUEST_KERNEL:-vmlinux}
[ -s "$guest/$kernel" ] || kernel=vmlinuz
xml="$outdir/$name.xml"
log="$outdir/$name.serial.log"
: >"$log"

# QEMU runs as libvirt-qemu: the kernel, initrd and every parent directory must be
# readable/searchable by it (libvirt's DAC driver relabels the files, not the directories).
sed -e "s|@NAME@|$name|g" \
  -e "s|@KERNEL@|$guest/$kernel|g" \
  -e "s|@INITRD@|$guest/initrd.cpio.gz|g" \
  -e "s|@SERIAL_LOG@|$log|g" \
  "$here/domain.xml.in" >"$xml"
echo "$xml"
