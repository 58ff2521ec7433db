#!/usr/bin/env bash
# Independent readers accept what stowage delivers: skopeo (OCI layout and
# oci-archive), umoci (unpack), podman (docker-archive file and stream); and
# the unpacked rootfs runs the entrypoint, natively (amd64) and under qemu (arm64).
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1

version_of() { basename "$(readlink -f "$FIX/amd64/$1")" | sed -E 's/^[a-z0-9]{32}-[a-z]+-([0-9.]+)-.*/\1/'; }
tool_image() { # tool_image ARCH TOOL: ARCH-TOOL.json, the tool on ARCH's bash+coreutils base
	"$STOWAGE" build --layer "base-$1.json" --root "$FIX/$1/$2-root" --arch "$1" --entrypoint "/bin/$2" \
		--env PATH=/bin --name "stowage-e2e-$2" --tag "e2e-$RUN_ID" --cache-dir "$CACHE" -o "$1-$2.json"
}
version_ok() { grep -qF -- "$2" "$1" || { echo "want '$2' in: $(head -c 200 "$1")" >&2; return 1; }; }
# runs_entrypoint ARCH TOOL: the entrypoint umoci's runtime config names, run in the rootfs
runs_entrypoint() {
	local bundle=bundle-$1-$2 args
	mapfile -t args < <(jq -r '.process.args[]' "$bundle/config.json")
	run_in "$bundle/rootfs" "$1" "${args[@]}" --version | tee "$bundle.out"
}
config_field() { same "$(skopeo inspect --config "oci:layout:$1-$2" | jq -r ".$3")" "$4"; }

for arch in amd64 arm64; do
	expect_success "$arch: base layer" "$STOWAGE" layer "$FIX/$arch/bash" "$FIX/$arch/coreutils" \
		--cache-dir "$CACHE" -o "base-$arch.json"
	for tool in fd rg; do
		expect_success "$arch $tool: build" tool_image "$arch" "$tool"
		expect_success "$arch $tool: copy to oci:layout:$arch-$tool" "$STOWAGE" copy "$arch-$tool.json" "oci:layout:$arch-$tool"
		expect_success "$arch $tool: skopeo inspect accepts the layout" skopeo inspect "oci:layout:$arch-$tool"
		expect_success "$arch $tool: skopeo sees architecture $arch" config_field "$arch" "$tool" architecture "$arch"
		expect_success "$arch $tool: umoci unpack accepts the layout" unpack "layout:$arch-$tool" "bundle-$arch-$tool"
		expect_success "$arch $tool: the entrypoint runs in the rootfs" runs_entrypoint "$arch" "$tool"
		expect_success "$arch $tool: it prints version $(version_of "$tool")" version_ok "bundle-$arch-$tool.out" "$(version_of "$tool")"
	done
done
expect_success "arm64: image JSON has architecture arm64" same "$(jq -r .config.architecture arm64-fd.json)" arm64
expect_success "arm64: image JSON has variant v8" same "$(jq -r .config.variant arm64-fd.json)" v8
expect_success "arm64: skopeo sees variant v8" config_field arm64 fd variant v8

# oci-archive: the layout as one tar.
expect_success "copy to oci-archive" "$STOWAGE" copy amd64-fd.json oci-archive:fd.oci.tar:1.0
expect_success "skopeo inspect accepts the oci-archive" skopeo inspect oci-archive:fd.oci.tar
skopeo_digest() { skopeo inspect "$1" | jq -r .Digest; }
expect_success "the oci-archive has the layout's manifest" \
	same "$(skopeo_digest oci-archive:fd.oci.tar)" "$(skopeo_digest oci:layout:amd64-fd)"

# podman: a docker-archive file (named on the command line) and the `-` stream (named by the image JSON).
file_ref=localhost/stowage-e2e-fd:file-$RUN_ID stream_ref=localhost/stowage-e2e-fd:e2e-$RUN_ID
at_exit "podman rmi -f $file_ref $stream_ref"
podman_lists() { podman images --format '{{.Repository}}:{{.Tag}}' | grep -xF "$1" >/dev/null; }
podman_id_is_config() { same "sha256:$(podman image inspect --format '{{.Id}}' "$1")" "$(jq -r .config_digest amd64-fd.json)"; }
load_stream() { "$STOWAGE" copy amd64-fd.json - | podman load; }

expect_success "copy to docker-archive:FILE:NAME:TAG" "$STOWAGE" copy amd64-fd.json "docker-archive:fd.tar:stowage-e2e-fd:file-$RUN_ID"
expect_success "podman load accepts the docker-archive file" podman load -i fd.tar
expect_success "podman images shows $file_ref" podman_lists "$file_ref"
expect_success "podman's image ID is the config digest" podman_id_is_config "$file_ref"
expect_success "podman load accepts the '-' stream" load_stream
expect_success "podman images shows $stream_ref" podman_lists "$stream_ref"
expect_success "podman rmi removes both" podman rmi "$file_ref" "$stream_ref"

done_testing
