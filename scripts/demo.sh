#!/usr/bin/env bash
# The main job, end to end: build the fd tool image for amd64 and arm64 from
# real Nix store paths (bash + coreutils in a shared base layer), export both
# into one OCI layout, show what is in them, and run fd from the unpacked
# images (amd64 under chroot, arm64 under qemu-aarch64).
set -euo pipefail
cd "$(dirname "$0")/.."

stowage=build/stowage
out=build/demo
rm -rf "$out"
mkdir -p "$out"

say() { printf '\n==> %s\n' "$*"; }

say "building the fixture package set (Debian packages turned into Nix store paths)"
bash tests/fixtures/build.sh >/dev/null

for arch in amd64 arm64; do
  fx=build/fixtures/$arch
  say "$arch: shared base layer (bash + coreutils)"
  $stowage layer "$fx/bash" "$fx/coreutils" -o "$out/base-$arch.json"
  say "$arch: fd image on top of it"
  $stowage build --layer "$out/base-$arch.json" --root "$fx/fd-root" --arch "$arch" \
    --entrypoint /bin/fd --env PATH=/bin \
    --label org.opencontainers.image.description="fd, a simple, fast alternative to find" \
    --label org.opencontainers.image.source=https://github.com/sharkdp/fd \
    --name fd --tag "8.6.0-$arch" -o "$out/fd-$arch.json"
  $stowage copy "$out/fd-$arch.json" "oci:$out/oci:8.6.0-$arch"
done

say "stowage inspect $out/fd-arm64.json"
$stowage inspect "$out/fd-arm64.json"

say "the OCI layout, as skopeo sees it"
skopeo inspect "oci:$out/oci:8.6.0-amd64" | jq '{Digest, Architecture, Layers}'

say "running fd from the unpacked images"
umoci unpack --image "$out/oci:8.6.0-amd64" "$out/amd64" >/dev/null
echo "amd64: $(chroot "$out/amd64/rootfs" /bin/fd --version)"
umoci unpack --image "$out/oci:8.6.0-arm64" "$out/arm64" >/dev/null
cp /usr/bin/qemu-aarch64-static "$out/arm64/rootfs/"
echo "arm64: $(chroot "$out/arm64/rootfs" /qemu-aarch64-static /bin/fd --version)"

say "pushing both to a registry on loopback (docker-registry, plain HTTP on 127.0.0.1)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$out/registry.yml" <<YML
version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: $PWD/$out/registry } }
http: { addr: 127.0.0.1:$port }
YML
docker-registry serve "$out/registry.yml" >"$out/registry.log" 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
for arch in amd64 arm64; do
  $stowage push "$out/fd-$arch.json" "127.0.0.1:$port/fd:8.6.0-$arch" --cache-dir "$out/cache"
done
say "pushing amd64 again: nothing to upload"
$stowage push "$out/fd-amd64.json" "127.0.0.1:$port/fd:8.6.0-amd64" --cache-dir "$out/cache"
say "adding the tag 'latest' server-side"
$stowage tag "127.0.0.1:$port/fd:8.6.0-amd64" latest

say "what skopeo inspect sees in the registry"
skopeo inspect --tls-verify=false "docker://127.0.0.1:$port/fd:latest" | jq '{Digest, Architecture, Layers}'
skopeo inspect --tls-verify=false "docker://127.0.0.1:$port/fd:8.6.0-arm64" | jq '{Digest, Architecture}'

say "done: image JSONs, the OCI layout and the registry's storage are in $out/"
