#!/usr/bin/env bash
# stowage verify docker://REF (issue 4): images in a real docker-registry,
# pulled and checked as a puller meets them. The released fd index passes
# with both platforms; gzip, zstd and uncompressed layers are read; an amd64
# config over arm64 binaries is refused naming the fd binary; an index whose
# platforms are swapped is refused; whiteouts, opaque directories and hard
# links written by another tool (Python's tarfile, pushed by skopeo) are
# applied as a runtime would; a blob corrupted in the registry's storage is
# caught by its digest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cd "$SCRATCH" || exit 1
unset VERSION TAGS GITHUB_REF_NAME GITHUB_ACTOR GITHUB_TOKEN

if registry_start plain 2>"$ERR"; then pass "a plain registry runs on $REGISTRY"; else fail "a plain registry starts" "registry_start plain failed"; done_testing; fi
R=$REGISTRY
has() { grep -qF -- "$2" "$1" || { echo "want '$2' in: $(cat "$1")" >&2; return 1; }; }
verify() { "$STOWAGE" verify "docker://$1" --tls-verify=false "${@:2}"; }

for arch in amd64 arm64; do
	F=$FIX/$arch
	expect_success "build: $arch base layer" "$STOWAGE" layer "$F/bash" "$F/coreutils" --cache-dir "$CACHE" -o "base-$arch.json"
	expect_success "build: $arch fd image" "$STOWAGE" build --layer "base-$arch.json" --root "$F/fd-root" \
		--arch "$arch" --entrypoint fd --env PATH=/bin --cache-dir "$CACHE" -o "fd-$arch.json"
done
expect_success "release fd 1.0.0 for both architectures" "$STOWAGE" release fd-amd64.json fd-arm64.json \
	--repository "$R/fd" --version 1.0.0 --tls-verify=false --cache-dir "$CACHE"

# The index: one summary line per platform.
expect_success "verify the index" verify "$R/fd:1.0.0"
cp "$ERR" index.err
expect_success "... one line per platform" same "$(wc -l <index.err)" 2
expect_success "... amd64: fd found through PATH, an x86-64 ELF file" \
	has index.err "(linux/amd64): amd64 entrypoint fd (ELF x86-64)"
expect_success "... arm64: an aarch64 ELF file" has index.err "(linux/arm64/v8): arm64 entrypoint fd (ELF aarch64)"
expect_success "... every layer matched its digests" has index.err "layers match their digests"
expect_success "verify the index --json" verify "$R/fd:1.0.0" --json
cp "$OUT" index.json
expect_success "--json: an index of two images" jq_ok index.json '.index and (.images | length) == 2'
expect_success "--json: the index digest is the tag's" \
	equals "digest" "$(jq -r .digest index.json)" "$(skopeo inspect --raw --tls-verify=false "docker://$R/fd:1.0.0" | sha256sum | sed 's/^/sha256:/; s/ .*//')"
expect_success "--json: the platforms" jq_ok index.json '[.images[].architecture] == ["amd64", "arm64"]'
expect_success "--json: fd resolves to the store path through /bin" \
	jq_ok index.json '.images[0].entrypoint_path == $p' --arg p "$(readlink "$FIX/amd64/fd")/bin/fd"
expect_success "--json: every layer of each image pulled and hashed" \
	jq_ok index.json '[.images[] | .layers_verified > 1 and .bytes_pulled > 1000000 and .elf_files > 10] | all'
amd64_digest=$(jq -r '.images[0].digest' index.json)
expect_success "verify one platform by digest" verify "$R/fd@$amd64_digest"
cp "$ERR" one.err
expect_success "... a single image: one line" has one.err "verified $R/fd@$amd64_digest@$amd64_digest (linux/amd64)"

# Every compression a layer can have.
for c in zstd none; do
	expect_success "build: fd with $c layers" "$STOWAGE" build --root "$FIX/arm64/fd-root" --arch arm64 \
		--entrypoint /bin/fd --compression "$c" --cache-dir "$CACHE" -o "fd-$c.json"
	expect_success "push: fd with $c layers" "$STOWAGE" push "fd-$c.json" "$R/fd-$c:1" --tls-verify=false --cache-dir "$CACHE"
	expect_success "verify: fd with $c layers" verify "$R/fd-$c:1"
done

# A config that lies about its binaries.
expect_success "build: amd64 config over arm64 binaries" "$STOWAGE" build --layer base-arm64.json \
	--root "$FIX/arm64/fd-root" --arch amd64 --entrypoint /bin/fd --cache-dir "$CACHE" -o liar.json
expect_success "push: the lying image" "$STOWAGE" push liar.json "$R/liar:1" --tls-verify=false --cache-dir "$CACHE"
expect_error "verify names the arm64 fd binary" \
	"'$(readlink "$FIX/arm64/fd")/bin/fd' is an aarch64 (arm64) ELF binary but the image config says amd64" \
	verify "$R/liar:1"

# An index whose platforms are swapped.
swap_index() {
	skopeo inspect --raw --tls-verify=false "docker://$R/fd:1.0.0" |
		jq -c '.manifests |= [.[0], .[1]] | .manifests[0].platform as $a | .manifests[0].platform = .manifests[1].platform | .manifests[1].platform = $a' >swapped.json &&
		curl -sf --max-time 10 -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' \
			--data-binary @swapped.json "http://$R/v2/fd/manifests/swapped" >/dev/null
}
expect_success "put an index with swapped platforms" swap_index
expect_error "verify refuses the swapped index" "the index says linux/arm64/v8 but the image config says linux/amd64" \
	verify "$R/fd:swapped"

# Layers another tool wrote: whiteouts, an opaque directory and a hard link.
cp "$(readlink -f "$FIX/amd64/busybox")/bin/busybox" busybox
/usr/bin/python3 - busybox oci <<'PY' || fail "write the whiteout layout" "python failed"
import gzip, hashlib, io, json, os, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
def member(tf, name, kind="file", target=None, mode=0o755):
    ti = tarfile.TarInfo(name); ti.mode = mode
    if kind == "file":
        ti.size = len(data); tf.addfile(ti, io.BytesIO(data))
    elif kind == "dir":
        ti.type = tarfile.DIRTYPE; tf.addfile(ti)
    elif kind == "empty":
        ti.size = 0; tf.addfile(ti, io.BytesIO(b""))
    elif kind == "hard":
        ti.type = tarfile.LNKTYPE; ti.linkname = target; tf.addfile(ti)
def layer(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries: member(tf, *e)
    tar = raw.getvalue(); gz = gzip.compress(tar, mtime=0)
    return tar, gz
layers = [
    layer([("bin", "dir"), ("bin/gone", "file"), ("bin/kept", "file"), ("opt", "dir"), ("opt/old", "file")]),
    layer([("bin/.wh.gone", "empty"), ("opt/.wh..wh..opq", "empty"), ("opt/new", "file"),
           ("bin/linked", "hard", "opt/new")]),
]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
def blob(b):
    d = hashlib.sha256(b).hexdigest(); open(f"{out}/blobs/sha256/{d}", "wb").write(b)
    return "sha256:" + d, len(b)
descs = []
for tar, gz in layers:
    d, n = blob(gz)
    descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n})
for name, entry in [("gone", "/bin/gone"), ("kept", "/bin/kept"), ("old", "/opt/old"), ("new", "/opt/new"), ("linked", "/bin/linked")]:
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Entrypoint": [entry]},
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest() for t, _ in layers]}}
    cd, cn = blob(json.dumps(cfg).encode())
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn}, "layers": descs}
    md, mn = blob(json.dumps(m).encode())
    idx = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
           "annotations": {"org.opencontainers.image.ref.name": name}}]}
    os.makedirs(f"{out}-{name}/blobs", exist_ok=True)
    os.system(f"cp -r {out}/blobs/sha256 {out}-{name}/blobs/")
    open(f"{out}-{name}/index.json", "w").write(json.dumps(idx))
    open(f"{out}-{name}/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
PY
for name in gone kept old new linked; do
	expect_success "skopeo pushes the whiteout image with entrypoint $name" \
		skopeo copy -q --dest-tls-verify=false "oci:oci-$name:$name" "docker://$R/white:$name"
done
expect_error "a whited-out file is not in the image" "entrypoint '/bin/gone': '/bin/gone' is not in the image" \
	verify "$R/white:gone"
expect_success "a file beside the whiteout stays" verify "$R/white:kept"
expect_error "an opaque directory hides what lower layers held" "'/opt/old' is not in the image" verify "$R/white:old"
expect_success "... and keeps what its own layer adds" verify "$R/white:new"
expect_success "a hard link to an upper-layer file is that file" verify "$R/white:linked"
cp "$ERR" linked.err
expect_success "... an x86-64 ELF file" has linked.err "entrypoint /bin/linked (ELF x86-64)"

# Refusals.
expect_error "no such tag" "manifests nope not found" verify "$R/fd:nope"
expect_usage_error "--no-digests is for image JSONs" "always hashed" verify "$R/fd:1.0.0" --no-digests
expect_error "an unreachable registry" "cannot reach" "$STOWAGE" verify docker://127.0.0.1:1/fd:1

# A blob corrupted in the registry's storage (last: the storage is shared by every repository).
corrupt() {
	local digest f
	digest=$(skopeo inspect --raw --tls-verify=false "docker://$R/fd-none:1" | jq -r '.layers[-1].digest')
	f=$REGISTRY_DIR/storage/docker/registry/v2/blobs/sha256/${digest:7:2}/${digest#sha256:}/data
	printf 'X' | dd of="$f" bs=1 seek=1000 conv=notrunc status=none
}
expect_success "corrupt one byte of a layer in the registry's storage" corrupt
expect_error "verify catches it by the blob's digest" "the registry sent a blob whose digest is" verify "$R/fd-none:1"
done_testing
