#!/usr/bin/env bash
# Installs everything Vireo needs to build, run and test on Debian 12 (bookworm).
# Idempotent: packages already present are not touched, so a second run is quick.
# libvirt and qemu-system-x86 come from bookworm-backports because the machine's
# qemu-utils already does, and mixed QEMU versions do not work together.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

BACKPORTS=(
  libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-daemon-log libvirt-clients
  libvirt-dev libvirt0 qemu-system-x86 qemu-system-modules-spice qemu-utils
)
PACKAGES=(
  build-essential pkg-config git ca-certificates curl
  libgtk-4-dev libadwaita-1-dev libglib2.0-dev-bin gettext
  libxml2-utils ovmf dbus dbus-x11 iproute2 python3
  xvfb xauth x11-apps imagemagick at-spi2-core python3-gi python3-pyatspi gir1.2-atspi-2.0
  desktop-file-utils appstream meson ninja-build polkitd
  osinfo-db
)

missing=()
for p in "${BACKPORTS[@]}" "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# libvirt must be the backports build even when an older one is already installed.
if dpkg-query -W -f='${Version}' libvirt-daemon 2>/dev/null | grep -qv 'bpo'; then
  missing+=(libvirt-daemon)
fi

if [ ${#missing[@]} -eq 0 ]; then
  log "all system packages present"
else
  log "installing: ${missing[*]}"
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding bookworm-backports to apt sources"
    $SUDO tee /etc/apt/sources.list.d/vireo-backports.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # Services must not be started by package scripts: the run and test scripts start
  # the daemons they need themselves (there is no systemd in containers and CI).
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
  fi
  $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports "${BACKPORTS[@]}" >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  [ "$created_policy" = 1 ] && $SUDO rm -f "$policy"
  log "system packages installed"
fi

for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    log "adding rust component $component"
    rustup component add "$component"
  fi
done
