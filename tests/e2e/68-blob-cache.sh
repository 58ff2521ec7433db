#!/usr/bin/env bash
# The compressed-blob cache (CACHE_DIR/blobs/sha256, README "The cache"):
# `stowage build` keeps each gzip/zstd layer it compresses; push and copy to
# oci: send those bytes instead of synthesising and compressing the layer
# again, so they work even with the image's trees gone; a corrupt cached blob
# is deleted and the layer synthesised (the registry gets the right blob);
# --no-cache writes nothing; STOWAGE_BLOB_CACHE_MAX caps the cache (least
# recently used blobs go first, 0 turns it off); a layer a push had to
# synthesise is kept, so the next registry gets it send-only. skopeo and
# umoci read back what was pushed or written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cd "$SCRATCH" || exit 1

if registry_start plain 2>"$ERR"; then pass "a plain registry runs on $REGISTRY"; else fail "a plain registry starts" "registry_start plain failed"; done_testing; fi
R=$REGISTRY

# push_json OUT CACHE ARGS...: stowage push --json into OUT with cache directory CACHE
push_json() { local out=$1 cache=$2; shift 2; "$STOWAGE" push "$@" --tls-verify=false --cache-dir "$cache" --json >"$out"; }
# build CACHE ARGS...: an image of the trees (plain directories, --graph)
build() { local cache=$1; shift; "$STOWAGE" build --graph tree.graph --arch amd64 --name bc --tag 1 --cache-dir "$cache" "$@"; }
# cached CACHE: the digests the blob cache holds, sorted, one a line
cached() { ls "$1/blobs/sha256" 2>/dev/null | grep -E '^[0-9a-f]{64}$' | sed 's/^/sha256:/' | sort; }
# layers IMAGE: the image's layer digests, sorted, one a line
layers() { jq -r '.layers[].digest' "$1" | sort -u; }
# uploads_are REPO IMAGE: the finished uploads into REPO (registry log since the mark) are
# exactly IMAGE's layers and config
uploads_are() {
	equals uploads "$(registry_uploaded_digests "$1" | paste -sd ' ')" \
		"$( (layers "$2"; jq -r .config_digest "$2") | sort | paste -sd ' ')"
}
# from_cache OUT N: the push --json in OUT says N layers came from the cache
from_cache() { jq_ok "$1" '.layers_from_cache == $n' --argjson n "$2"; }
# hide / restore: the trees the image was built from, out of the way and back
hide() { mv tree tree.away; }
restore() { mv tree.away tree; }
# same_as_pulled IMAGE REF [zstd]: skopeo copies REF (checking every blob's digest) into an OCI
# layout, whose layers are the image's, and umoci's unpack holds the trees' files (umoci cannot
# unpack zstd layers: skopeo's digest checks only, then)
same_as_pulled() {
	local dir=pulled-$RANDOM
	skopeo copy -q --src-tls-verify=false "docker://$2" "oci:$dir:x" &&
		skopeo inspect "oci:$dir:x" >"$dir.json" &&
		equals layers "$(jq -c .Layers "$dir.json")" "$(jq -c '[.layers[].digest]' "$1")" &&
		{ [ "${3:-}" = zstd ] || same_as_layout "$dir:x"; }
}
# same_as_layout LAYOUT:TAG: umoci unpacks it, and tree/a and tree/b are there byte for byte
same_as_layout() {
	local bundle=bundle-$RANDOM src=tree
	[ -d tree ] || src=tree.away
	unpack "$1" "$bundle" && cmp "$bundle/rootfs$SCRATCH/tree/a/data" "$src/a/data" &&
		cmp "$bundle/rootfs$SCRATCH/tree/b/data" "$src/b/data"
}

mkdir -p tree/a tree/b
head -c 300000 /dev/urandom >tree/a/data && head -c 2000000 /dev/urandom >tree/b/data
graph_json "$SCRATCH/tree/a" "$SCRATCH/tree/b" >tree.graph

# --- build fills the cache with exactly the image's compressed layers ---
C=$SCRATCH/c-build
prereq "build --compression gzip --cache-dir DIR" build "$C" --compression gzip -o gz.json
nl=$(jq '.layers | length' gz.json)
dep expect_success "blobs/sha256 holds exactly the image's $nl layer digests" equals blobs "$(cached "$C")" "$(layers gz.json)"
dep expect_success "every cached blob's sha256 is its name" \
	eval 'for f in "$C"/blobs/sha256/*; do [ "$(sha256 "$f")" = "$(basename "$f")" ] || exit 1; done'
dep expect_success "blobs/ and blobs/sha256 are 0700" \
	eval '[ "$(stat -c %a "$C/blobs")" = 700 ] && [ "$(stat -c %a "$C/blobs/sha256")" = 700 ]'
expect_success "build --compression none keeps no blob" build "$SCRATCH/c-none" --compression none -o none.json
expect_success "... blobs/ is empty" is_zero "cached blobs" "$(cached "$SCRATCH/c-none" | wc -l)"

# --- push from the cache: the trees are gone, the push never reads them ---
hide
registry_mark
prereq "push with the trees moved away: succeeds from the cache" push_json p1.json "$C" gz.json "$R/bc:1"
dep expect_success "--json: layers_from_cache == $nl" from_cache p1.json "$nl"
dep expect_success "--json: every layer uploaded" jq_ok p1.json '([.layers[].action] | unique) == ["uploaded"]'
dep expect_success "registry log: the image's layers (and config) are the finished uploads" uploads_are bc gz.json
dep expect_success "skopeo copy docker:// -> oci: verifies every blob; umoci unpacks the trees' files" \
	same_as_pulled gz.json "$R/bc:1"

# --- the second registry: send-only from the cache as well ---
R1=$R
if registry_start plain second 2>"$ERR"; then pass "a second registry runs on $REGISTRY"; else fail "a second registry starts" "registry_start plain second failed"; fi
R2=$REGISTRY
prereq "push to the second registry, trees still away" push_json p2.json "$C" gz.json "$R2/bc:1"
dep expect_success "--json: layers_from_cache == $nl" from_cache p2.json "$nl"
dep expect_success "skopeo reads the second registry's copy back" same_as_pulled gz.json "$R2/bc:1"
registry_use plain

# --- copy to oci: and oci-archive: from the cache ---
prereq "copy oci:layout:1 with the trees away" "$STOWAGE" copy gz.json oci:layout:1 --cache-dir "$C"
dep expect_success "the layout's layer blobs are the image's" \
	eval '[ "$(ls layout/blobs/sha256 | grep -cxF -f <(layers gz.json | cut -d: -f2))" = "$nl" ]'
dep expect_success "umoci unpacks the layout: the trees' files" same_as_layout layout:1
prereq "copy oci-archive:bc.oci.tar with the trees away" "$STOWAGE" copy gz.json oci-archive:bc.oci.tar --cache-dir "$C"
dep expect_success "skopeo reads the archive's layers" \
	eval 'skopeo inspect oci-archive:bc.oci.tar | jq -c .Layers | grep -qxF "$(jq -c "[.layers[].digest]" gz.json)"'
# without the cache the copy must read the trees: it fails, leaving nothing
expect_failure "copy --no-cache with the trees away fails (the cache was what made it work)" \
	"$STOWAGE" copy gz.json oci:layout-nocache:1 --cache-dir "$C" --no-cache
expect_success "... and leaves no layout" test ! -e layout-nocache
restore

# --- a corrupt cached blob: deleted, the layer synthesised, the right blob published ---
big=$(jq -r '.layers | max_by(.size) | .digest' gz.json)
f=$C/blobs/sha256/${big#sha256:}
byte=$(od -An -tu1 -j1000 -N1 "$f" | tr -d ' ')
printf "\\x$(printf %02x $((255 - byte)))" | dd of="$f" bs=1 seek=1000 conv=notrunc status=none
expect_success "one byte of the biggest cached blob inverted (same size)" \
	eval '[ "$(sha256 "$f")" != "${big#sha256:}" ] && [ "$(stat -c %s "$f")" = "$(jq -r --arg d "$big" ".layers[] | select(.digest == \$d) | .size" gz.json)" ]'
rm -rf "$C/blob-locations" # no mount from bc: the push must send the layers
registry_mark
prereq "push with the corrupt blob in the cache succeeds" push_json p3.json "$C" gz.json "$R/corrupt:1"
dep expect_success "--json: layers_from_cache == $((nl - 1)) (the corrupt one synthesised)" from_cache p3.json "$((nl - 1))"
dep expect_success "registry log: only the recorded digests were finished" uploads_are corrupt gz.json
dep expect_success "skopeo copy of the pushed image verifies" same_as_pulled gz.json "$R/corrupt:1"
dep expect_success "the corrupt file is gone: the cache holds the right blob again (synthesised, kept)" \
	equals "cached blob" "sha256:$(sha256 "$f")" "$big"
printf "\\x$(printf %02x $((255 - byte)))" | dd of="$f" bs=1 seek=1000 conv=notrunc status=none
prereq "copy oci:layout2:1 with a corrupt cached blob succeeds" "$STOWAGE" copy gz.json oci:layout2:1 --cache-dir "$C"
dep expect_success "the layout's blob is the right one" equals "layout blob" "sha256:$(sha256 "layout2/blobs/sha256/${big#sha256:}")" "$big"
dep expect_success "umoci unpacks the layout" same_as_layout layout2:1
dep expect_success "the corrupt cached blob was replaced by the right one" equals "cached blob" "sha256:$(sha256 "$f")" "$big"

# --- --no-cache: nothing written ---
expect_success "build --no-cache --cache-dir DIR" build "$SCRATCH/c-no" --no-cache -o nocache.json
expect_success "... DIR was not created" test ! -e "$SCRATCH/c-no"
prereq "push --no-cache --cache-dir DIR2" push_json p4.json "$SCRATCH/c-no2" gz.json "$R/nocache:1" --no-cache
dep expect_success "--json: layers_from_cache == 0" from_cache p4.json 0
dep expect_success "... DIR2 was not created" test ! -e "$SCRATCH/c-no2"

# --- zstd ---
Z=$SCRATCH/c-zstd
prereq "build --compression zstd" build "$Z" --compression zstd -o zst.json
dep expect_success "zstd: blobs/sha256 holds exactly the image's layers" equals blobs "$(cached "$Z")" "$(layers zst.json)"
hide
dep prereq "zstd: push with the trees away" push_json p5.json "$Z" zst.json "$R/zst:1"
dep expect_success "zstd: layers_from_cache == $nl" from_cache p5.json "$nl"
dep expect_success "zstd: skopeo copy verifies every blob" same_as_pulled zst.json "$R/zst:1" zstd
restore

# --- a push that had to synthesise keeps the blobs: the next registry is send-only ---
T=$SCRATCH/c-tee
prereq "build with STOWAGE_BLOB_CACHE_MAX=0 (no blob kept)" env STOWAGE_BLOB_CACHE_MAX=0 "$STOWAGE" build --graph tree.graph \
	--arch amd64 --name bc --tag 1 --cache-dir "$T" -o tee.json
dep expect_success "... blobs/ is empty" is_zero "cached blobs" "$(cached "$T" | wc -l)"
dep prereq "push to registry 1: synthesised" push_json p6.json "$T" tee.json "$R1/tee:1"
dep expect_success "registry 1: layers_from_cache == 0" from_cache p6.json 0
dep expect_success "the push kept every layer it compressed" equals blobs "$(cached "$T")" "$(layers tee.json)"
hide
dep prereq "push to registry 2 with the trees away" push_json p7.json "$T" tee.json "$R2/tee:1"
dep expect_success "registry 2: layers_from_cache == $nl (send-only)" from_cache p7.json "$nl"
restore
RC=$SCRATCH/c-release
rel() {
	env STOWAGE_BLOB_CACHE_MAX=0 "$STOWAGE" build --graph tree.graph --arch amd64 --name bc --tag 1 --cache-dir "$RC" \
		-o rel.json &&
		"$STOWAGE" release rel.json --repository "$R1/rel" --repository "$R2/rel" --version 1.0.0 \
			--tls-verify=false --cache-dir "$RC"
}
prereq "release to both registries from a cache without blobs" rel
dep expect_success "release kept every layer (the second registry was sent the kept blobs)" \
	equals blobs "$(cached "$RC")" "$(layers rel.json)"
dep expect_success "skopeo reads the second registry's release" same_as_pulled rel.json "$R2/rel:1.0.0"

# --- the cap ---
cap=$(( $(jq '[.layers[].size] | min' gz.json) + 1000 ))
prereq "build with STOWAGE_BLOB_CACHE_MAX=$cap (holds the small layer, not the big one)" env STOWAGE_BLOB_CACHE_MAX=$cap "$STOWAGE" build --graph tree.graph \
	--arch amd64 --name bc --tag 1 --cache-dir "$SCRATCH/c-cap" -o cap.json
dep expect_success "blobs/ holds at most $cap bytes" \
	eval '[ "$(cat "$SCRATCH"/c-cap/blobs/sha256/* 2>/dev/null | wc -c)" -le '"$cap"' ]'
dep expect_success "... and the small layer" equals blobs "$(cached "$SCRATCH/c-cap")" "$(jq -r '.layers | min_by(.size) | .digest' gz.json)"
# LRU: a second image's blobs push the first image's out, least recently used first
mkdir -p tree2 && head -c 300000 /dev/urandom >tree2/data
graph_json "$SCRATCH/tree2" >tree2.graph
small=$(jq -r '.layers | min_by(.size) | .digest' gz.json)
prereq "build another small image under the same cap (K suffix)" env STOWAGE_BLOB_CACHE_MAX=$(( (cap + 1023) / 1024 ))K \
	"$STOWAGE" build --graph tree2.graph --arch amd64 --name other --tag 1 --cache-dir "$SCRATCH/c-cap" -o other.json
dep expect_success "the new blob stays, the older one was evicted" \
	equals blobs "$(cached "$SCRATCH/c-cap")" "$(layers other.json)"
expect_usage_error "STOWAGE_BLOB_CACHE_MAX=lots: a usage error naming the variable" STOWAGE_BLOB_CACHE_MAX \
	env STOWAGE_BLOB_CACHE_MAX=lots "$STOWAGE" build --graph tree.graph --arch amd64 --cache-dir "$SCRATCH/c-bad" -o bad.json
expect_usage_error "push with STOWAGE_BLOB_CACHE_MAX=1T: a usage error naming the variable" STOWAGE_BLOB_CACHE_MAX \
	env STOWAGE_BLOB_CACHE_MAX=1T "$STOWAGE" push gz.json "$R/bad:1" --tls-verify=false --cache-dir "$SCRATCH/c-bad"

# --- a cache that cannot be written is no error ---
mkdir -p ro-cache && touch ro-cache/blobs
prereq "build with blobs/ taken by a file: succeeds" build "$SCRATCH/ro-cache" -o ro.json
dep expect_success "... with the same image as the cached build" cmp ro.json gz.json
prereq "push with blobs/ taken by a file: succeeds" push_json p8.json "$SCRATCH/ro-cache" gz.json "$R/ro:1"
dep expect_success "... synthesised (layers_from_cache == 0)" from_cache p8.json 0

done_testing
