#!/usr/bin/env bash
# Runs every Vireo test: formatting, lints, unit tests, the lossless-model corpus tests,
# integration tests on a real libvirtd (QEMU driver, TCG) and the GUI tests under Xvfb.
# On a fresh Debian 12 machine (as root) it first installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

stage_start=0
stage() {
  stage_end
  stage_name=$1
  stage_start=$(date +%s)
  printf '\n==> %s\n' "$stage_name"
}
stage_end() {
  if [ "$stage_start" -gt 0 ]; then
    printf '<== %s: %ss\n' "$stage_name" "$(($(date +%s) - stage_start))"
  fi
}
started=$(date +%s)

stage "install dependencies"
scripts/setup-deps.sh

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export VIREO_TEST_STATE=${VIREO_TEST_STATE:-$repo/target/test-daemons}
export VIREO_GUEST_DIR=${VIREO_GUEST_DIR:-$repo/target/test-guest}

stage "cargo fmt --check"
cargo fmt --all -- --check

stage "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

stage "build"
cargo build --workspace --all-targets --locked

stage "test guest"
tests/guest/build.sh

stage "start libvirtd"
tests/support/libvirtd.sh start
cleanup() {
  tests/support/libvirtd.sh cleanup-domains || true
  tests/support/libvirtd.sh stop || true
}
trap cleanup EXIT

stage "cargo test"
cargo test --workspace --locked --no-fail-fast

stage "smoke test on the real daemon"
tests/support/smoke.sh

stage_end
printf '\nall tests passed in %ss\n' "$(($(date +%s) - started))"
