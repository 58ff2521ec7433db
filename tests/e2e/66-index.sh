#!/usr/bin/env bash
# Multi-architecture index (issue 4): fd for amd64 and arm64 pushed by
# digest, an index over them with each platform taken from the image
# config; skopeo picks the right image per architecture and the arm64 one
# runs under qemu; v2s2 lists, annotations, and the refusals.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cd "$SCRATCH" || exit 1

if registry_start plain 2>"$ERR"; then pass "a plain registry runs on $REGISTRY"; else fail "a plain registry starts" "registry_start plain failed"; done_testing; fi
R=$REGISTRY
push() { "$STOWAGE" push "$@" --tls-verify=false --cache-dir "$CACHE"; }
index() { "$STOWAGE" index --tls-verify=false "$@"; }

for arch in amd64 arm64; do
	F=$FIX/$arch
	expect_success "build: $arch base layer" "$STOWAGE" layer "$F/bash" "$F/coreutils" --cache-dir "$CACHE" -o "base-$arch.json"
	expect_success "build: $arch fd image" "$STOWAGE" build --layer "base-$arch.json" --root "$F/fd-root" --arch "$arch" \
		--entrypoint /bin/fd --cache-dir "$CACHE" -o "fd-$arch.json"
	expect_success "push: $arch by its own tag, digest recorded" push "fd-$arch.json" "$R/fd:1-$arch" --digestfile "d-$arch"
	expect_success "push: $arch as Docker schema 2 too" push "fd-$arch.json" "$R/fdv2:1-$arch" --format v2s2 --digestfile "v-$arch"
done
da=$(cat d-amd64) dr=$(cat d-arm64)

expect_success "index: OCI index of both, by digest, with an annotation" \
	index --tag "$R/fd:1" "$R/fd@$da" "$R/fd@$dr" --annotation org.opencontainers.image.version=1 --digestfile idx
raw() { skopeo inspect --raw --tls-verify=false "docker://$1"; }
expect_success "skopeo: the tag holds an OCI index" same "$(raw "$R/fd:1" | jq -r .mediaType)" application/vnd.oci.image.index.v1+json
expect_success "skopeo: the index digest is the one stowage wrote" same "$(raw "$R/fd:1" | sha256sum | cut -c1-64)" "$(cut -c8- idx)"
expect_success "index: amd64 entry is linux/amd64 and names the amd64 digest" same \
	"$(raw "$R/fd:1" | jq -r '.manifests[0] | "\(.platform.os)/\(.platform.architecture) \(.digest)"')" "linux/amd64 $da"
expect_success "index: arm64 entry is linux/arm64/v8 and names the arm64 digest" same \
	"$(raw "$R/fd:1" | jq -r '.manifests[1] | "\(.platform.os)/\(.platform.architecture)/\(.platform.variant) \(.digest)"')" "linux/arm64/v8 $dr"
expect_success "index: the annotation is on the index" same \
	"$(raw "$R/fd:1" | jq -r '.annotations["org.opencontainers.image.version"]')" 1

expect_success "skopeo copy --override-arch arm64 picks the arm64 image" \
	skopeo copy -q --src-tls-verify=false --override-arch arm64 "docker://$R/fd:1" oci:arm:1
expect_success "the arm64 layout's config says arm64" same \
	"$(skopeo inspect --config oci:arm:1 | jq -r .architecture)" arm64
expect_success "umoci unpacks the arm64 image" unpack arm:1 arm
expect_success "the arm64 fd runs under qemu-aarch64" run_in arm/rootfs arm64 /bin/fd --version
expect_success "skopeo copy --override-arch amd64 picks the amd64 image" \
	skopeo copy -q --src-tls-verify=false --override-arch amd64 "docker://$R/fd:1" oci:amd:1
expect_success "umoci unpacks the amd64 image" unpack amd:1 amd
expect_success "the amd64 fd runs under chroot" run_in amd/rootfs amd64 /bin/fd --version

expect_success "index --format v2s2: a Docker manifest list" \
	index --format v2s2 --tag "$R/fdv2:1" "$R/fdv2@$(cat v-amd64)" "$R/fdv2@$(cat v-arm64)"
expect_success "skopeo: the tag holds a Docker manifest list" same \
	"$(raw "$R/fdv2:1" | jq -r .mediaType)" application/vnd.docker.distribution.manifest.list.v2+json

expect_error "index: a child by tag is refused" "by digest" index --tag "$R/fd:2" "$R/fd:1-amd64"
expect_error "index: a child from another repository is refused" "repository" index --tag "$R/other:1" "$R/fd@$da"
expect_error "index: a digest the registry does not have" "not found" \
	index --tag "$R/fd:3" "$R/fd@sha256:0000000000000000000000000000000000000000000000000000000000000000"
expect_error "index --format v2s2 over OCI manifests is refused" "Docker manifests" \
	index --format v2s2 --tag "$R/fd:4" "$R/fd@$da"
expect_usage_error "index without --tag" "--tag" "$STOWAGE" index "$R/fd@$da"
expect_failure "no index was published under the refused tags" skopeo inspect --raw --tls-verify=false "docker://$R/fd:3"
done_testing
