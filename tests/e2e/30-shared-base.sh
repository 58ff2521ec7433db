#!/usr/bin/env bash
# Tool images built on one base layer JSON (`stowage layer bash coreutils`)
# share its layers byte-for-byte, and never repeat the base's store paths.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64

tool_image() {
	"$STOWAGE" build --layer base.json --root "$F/$1-root" --arch amd64 --entrypoint "/bin/$1" \
		--env PATH=/bin --cache-dir "$CACHE" -o "$1.json"
}
base_digests() { jq -c '[.layers[] | [.digest, .diff_id, .size]]' base.json; }
nbase=0
# image_starts_with_base IMAGE: the image's first layers are the base's, digest for digest
image_starts_with_base() { same "$(jq -c "[.layers[:$nbase][] | [.digest, .diff_id, .size]]" "$1")" "$(base_digests)"; }
# no_base_path_repeated IMAGE: none of the base's store paths is in the image's other layers
no_base_path_repeated() {
	local dup
	dup=$(jq -r --slurpfile base base.json "[\$base[0].layers[].paths[].path] as \$b |
		[.layers[$nbase:][].paths[].path | select(IN(\$b[]))] | .[]" "$1")
	[ -z "$dup" ] || { echo "repeated: $dup" >&2; return 1; }
}
# no_base_path_in_tars IMAGE: the other layers' tars hold no file under a base store path either
no_base_path_in_tars() {
	local i n names
	n=$(jq '.layers | length' "$1")
	for ((i = nbase; i < n; i++)); do
		names+=$(layer_tar "$1" "$i" | tar -t) || return 1
		names+=$'\n'
	done
	for p in $(jq -r '.layers[].paths[].path | ltrimstr("/")' base.json); do
		if grep -qxF "$p" <<<"$names" || grep -qF "$p/" <<<"$names"; then echo "$p found in an upper layer" >&2; return 1; fi
	done
}
blobs_identical() { cmp "oci-fd/blobs/sha256/${1#sha256:}" "oci-rg/blobs/sha256/${1#sha256:}"; }
layout_has_base() { # layout_has_base LAYOUT: its manifest starts with the base's layer digests
	local m
	m=$(jq -r '.manifests[0].digest | ltrimstr("sha256:")' "$1/index.json") &&
		same "$(jq -c "[.layers[:$nbase][].digest]" "$1/blobs/sha256/$m")" "$(jq -c '[.layers[].digest]' base.json)"
}

expect_success "layer: bash + coreutils base" "$STOWAGE" layer "$F/bash" "$F/coreutils" --cache-dir "$CACHE" -o base.json
nbase=$(jq '.layers | length' base.json)
expect_success "the base has layers" test "$nbase" -ge 1
expect_success "build: fd on the base" tool_image fd
expect_success "build: rg on the base" tool_image rg
for tool in fd rg; do
	expect_success "$tool: image JSON starts with the base's layers, byte-for-byte digests" image_starts_with_base "$tool.json"
	expect_success "$tool: no base store path repeated in the other layers' paths" no_base_path_repeated "$tool.json"
	expect_success "$tool: no base store path in the other layers' tars" no_base_path_in_tars "$tool.json"
	expect_success "$tool: copy to its own layout" "$STOWAGE" copy "$tool.json" "oci:oci-$tool:1.0"
	expect_success "$tool: its layout's manifest starts with the base's layers" layout_has_base "oci-$tool"
done
for d in $(jq -r '.layers[].digest' base.json); do
	expect_success "base blob ${d:7:12} is identical in both layouts" blobs_identical "$d"
done

# Into one layout, the second image finds the base's blobs already there.
expect_success "fd: copy to a shared layout" "$STOWAGE" copy fd.json oci:shared:fd
expect_success "rg: copy to the shared layout, --json" eval '"$STOWAGE" copy rg.json oci:shared:rg --json >rg-copy.json'
expect_success "rg: the base's blobs were already present" test "$(jq .blobs_present rg-copy.json)" -ge "$nbase"
expect_success "skopeo reads fd from the shared layout" skopeo inspect oci:shared:fd
expect_success "skopeo reads rg from the shared layout" skopeo inspect oci:shared:rg

done_testing
