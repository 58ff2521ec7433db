#!/usr/bin/env bash
# stowage verify: the fd images for amd64 and arm64 pass with their own
# --arch; an image whose config says amd64 but whose binaries are arm64 is
# refused naming the fd binary; a tree changed since the build fails the
# digest check (and passes with --no-digests).
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1

fd_image() { # fd_image ARCH ROOT-ARCH: ARCH's config on ROOT-ARCH's fd-root and base layer
	"$STOWAGE" build --layer "base-$2.json" --root "$FIX/$2/fd-root" --arch "$1" --entrypoint /bin/fd \
		--env PATH=/bin --cache-dir "$CACHE" -o "$1-on-$2.json"
}
json_field() { same "$(jq -r ".$2" "$1")" "$3"; }
# has FILE TEXT: FILE (say, a saved copy of a command's stderr) contains TEXT
has() { grep -qF -- "$2" "$1" || { echo "want '$2' in: $(cat "$1")" >&2; return 1; }; }

for arch in amd64 arm64; do
	expect_success "$arch: base layer" "$STOWAGE" layer "$FIX/$arch/bash" "$FIX/$arch/coreutils" \
		--cache-dir "$CACHE" -o "base-$arch.json"
	expect_success "$arch: fd image" fd_image "$arch" "$arch"
	expect_success "$arch: verify passes" "$STOWAGE" verify "$arch-on-$arch.json"
	cp "$ERR" "$arch.verify.err"
	expect_success "$arch: one summary line on stderr" same "$(wc -l <"$ERR")" 1
	expect_success "$arch: the summary names the entrypoint and the layers" \
		has "$arch.verify.err" "stowage: verified $arch-on-$arch.json: $arch entrypoint /bin/fd (ELF "
	expect_success "$arch: ... and that its layers match" has "$arch.verify.err" "layers match their digests"
	expect_success "$arch: --json --no-digests" "$STOWAGE" verify "$arch-on-$arch.json" --json --no-digests
	cp "$OUT" "$arch.verify.json"
	expect_success "$arch: --json names the architecture" json_field "$arch.verify.json" architecture "$arch"
	expect_success "$arch: --json resolves /bin/fd to the fd store path" \
		json_field "$arch.verify.json" entrypoint_path "$(readlink "$FIX/$arch/fd")/bin/fd"
	expect_success "$arch: --json entrypoint architecture" \
		json_field "$arch.verify.json" entrypoint_architecture "$arch"
	expect_success "$arch: --json counts ELF files" test "$(jq .elf_files "$arch.verify.json")" -gt 10
	expect_success "$arch: --json with --no-digests verifies no layer" \
		json_field "$arch.verify.json" layers_verified 0
done
expect_success "amd64: the summary says ELF x86-64" has amd64.verify.err "(ELF x86-64)"
expect_success "arm64: the summary says ELF aarch64" has arm64.verify.err "(ELF aarch64)"

# A config that lies about its binaries.
expect_success "amd64 config on arm64 binaries: build" fd_image amd64 arm64
expect_error "amd64 config on arm64 binaries: verify names the arm64 fd" \
	"'$(readlink "$FIX/arm64/fd")/bin/fd' is an aarch64 (arm64) ELF binary but the image config says amd64" \
	"$STOWAGE" verify amd64-on-arm64.json
expect_error "... also without the digest check" "says amd64" "$STOWAGE" verify amd64-on-arm64.json --no-digests

# Content changed since the build.
mkdir -p tree/bin && echo one >tree/bin/data && echo two >tree/README
graph_json "$SCRATCH/tree" >tree-graph.json
expect_success "plain tree: build" "$STOWAGE" build --graph tree-graph.json --arch amd64 --no-cache -o tree.json
expect_success "plain tree: verify passes (no entrypoint, no ELF files)" "$STOWAGE" verify tree.json
cp "$ERR" tree.verify.err
expect_success "plain tree: ... with a note" has tree.verify.err "no entrypoint and no ELF files"
echo changed >tree/bin/data
expect_error "changed tree: the digest check fails naming the layer" \
	"holding '$SCRATCH/tree' no longer matches its recorded" "$STOWAGE" verify tree.json
expect_success "changed tree: --no-digests passes" "$STOWAGE" verify tree.json --no-digests

# The command line.
expect_usage_error "no image" "expected one IMAGE.json" "$STOWAGE" verify
expect_usage_error "unknown option" "--bogus" "$STOWAGE" verify tree.json --bogus
expect_error "a missing image JSON" "missing.json" "$STOWAGE" verify missing.json

done_testing
