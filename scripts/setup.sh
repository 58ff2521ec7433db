#!/usr/bin/env bash
# Install what stowage's build and tests need on a fresh Debian 12 machine.
# Run as root. Idempotent: prints one line per step it actually performs and
# nothing when the machine is already set up. Only talks to the apt mirrors.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
step() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }
trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR

[ "$(id -u)" -eq 0 ] || die "must run as root"
command -v dpkg-query >/dev/null || die "not a Debian system (no dpkg-query)"

PACKAGES=(
  build-essential pkg-config libcurl4-openssl-dev libssl-dev libjansson-dev
  zlib1g-dev libzstd-dev nix-bin skopeo umoci podman docker-registry patchelf
  qemu-user-static jq apache2-utils python3 openssl file zstd curl
  python3-jwt python3-cryptography
  python3-yaml sqlite3
  clang libclang-rt-14-dev valgrind   # fuzz targets (libFuzzer), memcheck subset
)

# Another apt run (e.g. a provisioning job) may hold the dpkg lock: wait for
# it instead of failing.
APT=(apt-get -q -o DPkg::Lock::Timeout=900 -o Acquire::Retries=3)
updated=0
apt_update() {
  [ "$updated" -eq 1 ] && return 0
  step "apt-get update"
  "${APT[@]}" update >/tmp/stowage-setup-apt.log 2>&1 ||
    { tail -n 20 /tmp/stowage-setup-apt.log >&2; die "apt-get update failed"; }
  updated=1
}

# --- arm64 as a foreign architecture, so `apt-get download NAME:arm64` works.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  step "dpkg --add-architecture arm64"
  dpkg --add-architecture arm64
  apt_update   # the arm64 package lists are only there after an update
fi

# --- Debian packages: only touch apt when something is missing.
missing=()
for p in "${PACKAGES[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_update
  step "apt-get install ${missing[*]}"
  "${APT[@]}" install -y --no-install-recommends "${missing[@]}" \
    >/tmp/stowage-setup-apt.log 2>&1 ||
    { tail -n 20 /tmp/stowage-setup-apt.log >&2; die "apt-get install failed"; }
fi

# --- Nix, single-user as root, no daemon.
# sandbox off: derivations use host tools (/bin/sh, dpkg-deb, patchelf).
# empty build-users-group: root builds itself, no nixbld users needed.
# empty substituters: the only network is the apt mirrors; without this every
# build first tries (and times out on) the default binary cache.
conf=/etc/nix/nix.conf
mkdir -p /etc/nix
touch "$conf"
set_nix_conf() { # key value: replace an existing `key = ...` line or append one
  local key=$1 value=$2 line
  line="$key = $value"; line=${line% }   # "key =" when value is empty
  if grep -qxF "$line" "$conf"; then return 0; fi
  step "nix.conf: $line"
  if grep -qE "^[[:space:]]*$key[[:space:]]*=" "$conf"; then
    sed -i -E "s|^[[:space:]]*$key[[:space:]]*=.*|$line|" "$conf"
  else
    echo "$line" >>"$conf"
  fi
}
set_nix_conf sandbox false
set_nix_conf build-users-group ""
set_nix_conf experimental-features "nix-command flakes"
set_nix_conf substituters ""

# Root with a writable /nix/var/nix uses the local store directly; only a
# NIX_REMOTE=daemon in the environment would send it to a (absent) daemon.
# Tests and fixture builds therefore run with NIX_REMOTE unset or empty.
export NIX_REMOTE=
nix-store --version >/dev/null 2>&1 || die "nix-store does not run"
# A trivial build proves the store, the builder and the config work; after
# the first run its output is already valid, so this is instant.
check=$(nix-build --no-out-link -E 'derivation {
  name = "stowage-setup-check"; system = builtins.currentSystem;
  builder = "/bin/sh"; args = [ "-c" "echo ok > $out" ]; }' 2>/tmp/stowage-setup-nix.log) ||
  { cat /tmp/stowage-setup-nix.log >&2; die "trivial nix-build failed"; }
[ "$(cat "$check" 2>/dev/null)" = ok ] || die "trivial nix-build gave no output: $check"
nix path-info "$check" >/dev/null 2>&1 || die "'nix path-info' does not work"

exit 0
