#!/usr/bin/env bash
# The Nix library (nix/, docs/nix.md) with the real nix-build: the fd and rg
# tool containers of mkContainerOutputs for x86_64 (the machine's own package
# set) and aarch64 (pkgsCross.aarch64-multiplatform) are image JSON
# derivations built by stowage; each target's fd and rg images start with the
# same bash + coreutils base layer, byte for byte; the JSON's closure holds
# the image; stowage delivers it to an OCI layout whose rootfs runs the tool
# (amd64 under chroot, arm64 under qemu-aarch64).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"   # jq_ok, equals (no registry is started)
. "$(dirname "$0")/nix-lib.sh"
cd "$SCRATCH" || exit 1

declare -A ARCH=([x86_64]=amd64 [aarch64]=arm64)
declare -A PROG=([fd]=fd [rg]=rg)
declare -A BANNER=([fd]="fd" [rg]="ripgrep ")   # Debian's fd says "fdfind 8.6.0"

for t in x86_64 aarch64; do
	for c in fd rg; do
		expect_success "nix-build ${c}Container-$t" world_build "outputs.${c}Container-$t" "$c-$t.json"
	done
	expect_success "$t: fd and rg have one base layer derivation (passthru baseLayer)" \
		world_eval_ok "w.outputs.fdContainer-$t.baseLayer.drvPath == w.outputs.rgContainer-$t.baseLayer.drvPath"
	expect_success "$t: nix-build the base layer" world_build "outputs.fdContainer-$t.baseLayer" "base-$t.json"
	expect_success "$t: the base layer holds bash and coreutils (and their closure)" jq_ok "base-$t.json" \
		'[.layers[].paths[].path | sub("^/nix/store/[a-z0-9]{32}-"; "")] | any(startswith("bash-")) and any(startswith("coreutils-"))'
done

# --- what each image is ---
for t in x86_64 aarch64; do
	a=${ARCH[$t]}
	nbase=$(jq '.layers | length' "base-$t.json" 2>/dev/null || echo 0)
	for c in fd rg; do
		j=$c-$t.json
		expect_success "$c-$t: architecture $a" jq_ok "$j" '.config.architecture == $a' --arg a "$a"
		expect_success "$c-$t: starts with the base layer's digests, byte for byte" same \
			"$(jq -c "[.layers[:$nbase][] | [.digest, .diff_id, .size]]" "$j")" "$(jq -c '[.layers[] | [.digest, .diff_id, .size]]' "base-$t.json")"
		expect_success "$c-$t: no store path in two layers, no layer twice" no_path_twice "$j"
		expect_success "$c-$t: entrypoint /bin/${PROG[$c]}, PATH=/bin" jq_ok "$j" \
			'.config.config.Entrypoint == ["/bin/" + $p] and .config.config.Env == ["PATH=/bin"]' --arg p "${PROG[$c]}"
		expect_success "$c-$t: OCI labels description and source" jq_ok "$j" \
			'.config.config.Labels | (.["org.opencontainers.image.description"] | length > 0) and (.["org.opencontainers.image.source"] | startswith("https://"))'
		expect_success "$c-$t: the top layer is the /bin copy-to-root tree" jq_ok "$j" \
			'.layers[-1].paths | length == 1 and (.[0].rewrite.repl == "")'
		expect_success "$c-$t: every store path of the JSON is in its Nix closure" in_closure "$j"
		expect_success "$c-$t: stowage verify (config arch vs the ELF files, digests vs content)" "$STOWAGE" verify "$j"
	done
	expect_success "$t: fd and rg share the base layer digests" same \
		"$(jq -r '.layers[0].digest' "fd-$t.json")" "$(jq -r '.layers[0].digest' "rg-$t.json")"
done
expect_success "the two targets' base layers differ (amd64 vs arm64 content)" test \
	"$(jq -r '.layers[0].digest' fd-x86_64.json)" != "$(jq -r '.layers[0].digest' fd-aarch64.json)"
expect_success "passthru imageName fd, imageTag latest" \
	world_eval_ok 'w.outputs.fdContainer-aarch64.imageName == "fd" && w.outputs.fdContainer-aarch64.imageTag == "latest"'

# --- delivered and run ---
for t in x86_64 aarch64; do
	a=${ARCH[$t]}
	for c in fd rg; do
		p=${PROG[$c]} b=${BANNER[$c]}
		expect_success "$c-$t: stowage copy to oci:layout-$c-$t" "$STOWAGE" copy "$c-$t.json" "oci:layout-$c-$t:1"
		expect_success "$c-$t: skopeo reads it, architecture $a" \
			same "$(skopeo inspect --config "oci:layout-$c-$t:1" 2>/dev/null | jq -r .architecture)" "$a"
		expect_success "$c-$t: umoci unpacks it" unpack "layout-$c-$t:1" "bundle-$c-$t"
		expect_success "$c-$t: /bin/$p --version runs from the rootfs ($a)" \
			eval 'run_in "bundle-$c-$t/rootfs" "$a" "/bin/$p" --version >version.txt && grep -q "^$b" version.txt'
		expect_success "$c-$t: /bin/bash runs from the rootfs too ($a)" \
			eval 'run_in "bundle-$c-$t/rootfs" "$a" /bin/bash -c "echo \$BASH_VERSION" >ok.txt && grep -q "^5\\." ok.txt'
		expect_success "$c-$t: and coreutils' /bin/ls ($a)" \
			eval 'run_in "bundle-$c-$t/rootfs" "$a" /bin/ls /bin/$p >ok.txt && grep -qx /bin/$p ok.txt'
	done
	expect_success "$t: the base blobs in fd's and rg's layouts are identical files" \
		eval 'for d in $(jq -r ".layers[].digest | ltrimstr(\"sha256:\")" base-$t.json); do cmp layout-fd-$t/blobs/sha256/$d layout-rg-$t/blobs/sha256/$d || exit 1; done'
done

# --- a second nix-build reuses everything ---
again() { world_build outputs.fdContainer-aarch64 again.json && same "$(readlink again.json)" "$(readlink fd-aarch64.json)"; }
expect_success "nix-build again: the same store path" again

done_testing
