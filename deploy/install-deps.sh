#!/usr/bin/env bash
# Installs the Debian 12 (bookworm) packages kfreeze builds, tests and demos with.
# Pinned to bookworm (-t) so a machine with extra suites never pulls newer libraries.
#   --kernel-build: also what the lab needs to build its 6.12 guest kernel from Debian's source
#   (tests/vm/lab fetch --kernel 6.12; list kept in step with BOOKWORM_PACKAGES in
#   tests/vm/labkit/kernel_build.py). Not part of the default install.
set -euo pipefail
KERNEL_BUILD=0
for arg in "$@"; do
  case "$arg" in
    --kernel-build) KERNEL_BUILD=1 ;;
    *) echo "usage: $0 [--kernel-build]" >&2; exit 2 ;;
  esac
done
PKGS=(
  build-essential cmake pkg-config ninja-build
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libbpf-dev libelf-dev zlib1g-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libcli11-dev
  libcpp-httplib-dev prometheus-cpp-dev  # kfreezed --http: JSON API, event stream, /metrics
  nats-server libnats-dev  # the fleet: kfreezed --nats; its tests start a real 3-node JetStream cluster
  chromium  # the dashboard's browser tests (tests/e2e/dashboard_e2e.py, puppeteer-core)
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 llvm-14 libclang-rt-14-dev clang-format
  qemu-system-x86 busybox-static bpftool cpio zstd gzip python3 socat debian-archive-keyring
  # arm64 lab guests (tests/vm/lab --arch arm64): qemu-system-aarch64, and the cross gcc/binutils
  # (objcopy, readelf) for their static programs and the BTF carved out of the kernel Image
  qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  openssl
  python3-drgn  # bench/guest/scale_window.py's drgn route, the tool users would compare with
)
if [ "$KERNEL_BUILD" -eq 1 ]; then
  PKGS+=(build-essential flex bison bc libelf-dev libssl-dev dwarves dpkg-dev cpio zstd bpftool)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq -t bookworm --no-install-recommends "${missing[@]}"
