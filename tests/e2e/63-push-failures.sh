#!/usr/bin/env bash
# Pushes that must fail, each with one clear line on stderr and a non-zero
# exit, and without publishing anything: unreachable and unknown registries,
# and content that changed since the image JSON was built (same size, same
# mtime: only hashing while uploading can tell), or vanished.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64

if registry_start plain 2>"$ERR"; then pass "a plain registry runs on $REGISTRY"; else fail "a plain registry starts" "registry_start plain failed"; done_testing; fi
R=$REGISTRY
push() { "$STOWAGE" push "$@" --tls-verify=false --cache-dir "$CACHE"; }
sk_digest() { skopeo inspect --tls-verify=false "docker://$1" | jq -r .Digest; }
keep() { cp "$OUT" "$1.out"; cp "$ERR" "$1.err"; }
# not_published REPO:TAG: skopeo cannot find it, and no manifest PUT since the mark
not_published() {
	if skopeo inspect --tls-verify=false "docker://$R/$1" >/dev/null 2>&1; then echo "$R/$1 exists" >&2; return 1; fi
	is_zero "manifest PUTs since the push began" "$(registry_manifest_puts)"
}
# only_recorded_blobs IMAGE...: every blob the registry stores (manifests are blobs too) is a layer or
# config of IMAGE(s) or one listed in good-blobs (an earlier, good push)
only_recorded_blobs() {
	local extra
	extra=$(registry_blob_files | grep -vxF -f <(jq -r '.layers[].digest, .config_digest' "$@"; cat good-blobs 2>/dev/null))
	[ -z "$extra" ] || { echo "blobs with digests no image JSON records: $extra" >&2; return 1; }
}
# blob_absent DIGEST: the registry has no blob DIGEST (HEAD 404 in repository 'mod', and not in storage)
blob_absent() {
	local code
	code=$(registry_curl "/v2/mod/blobs/$1" -o /dev/null -I -w '%{http_code}')
	[ "$code" = 404 ] || { echo "HEAD /v2/mod/blobs/$1: $code" >&2; return 1; }
	! registry_blob_files | grep -xF "$1" >/dev/null || { echo "$1 is in the storage" >&2; return 1; }
}

expect_success "build: a small image (bash only)" "$STOWAGE" build "$F/bash" --arch amd64 --name small --tag 1 --cache-dir "$CACHE" -o small.json

# --- registries that are not there ---
fails_cleanly "127.0.0.1:1 (connection refused): one line naming 127.0.0.1:1" '127\.0\.0\.1:1([^0-9]|$)' \
	push small.json 127.0.0.1:1/x:1
keep refused
expect_success "... and saying it could not connect" grep -qiE 'refused|connect|reach' refused.err
LIMIT=60 fails_cleanly "nonexistent.invalid (does not resolve): one line naming it" 'nonexistent\.invalid' \
	push small.json nonexistent.invalid/x:1
keep unresolved
expect_success "... and saying the name does not resolve" grep -qiE 'resolv|unknown host|name|dns|not known' unresolved.err
LIMIT=60 fails_cleanly "nonexistent.invalid:5000 over TLS (no --tls-verify=false): one line" 'nonexistent\.invalid' \
	"$STOWAGE" push small.json nonexistent.invalid:5000/x:1 --cache-dir "$CACHE"
port=$(_registry_free_port)
fails_cleanly "a free port on 127.0.0.1 (nobody listens): one line naming it" "127\\.0\\.0\\.1:$port" \
	push small.json "127.0.0.1:$port/x:1"
fails_cleanly "inspect docker://127.0.0.1:1/x:1: one line" '127\.0\.0\.1:1([^0-9]|$)' \
	"$STOWAGE" inspect docker://127.0.0.1:1/x:1 --tls-verify=false
fails_cleanly "tag 127.0.0.1:1/x:1 y: one line" '127\.0\.0\.1:1([^0-9]|$)' \
	"$STOWAGE" tag 127.0.0.1:1/x:1 y --tls-verify=false
fails_cleanly "inspect of a tag that does not exist: one line naming it" 'nope' \
	"$STOWAGE" inspect "docker://$R/small:nope" --tls-verify=false
fails_cleanly "tag of a tag that does not exist: one line naming it" 'nope' \
	"$STOWAGE" tag "$R/small:nope" other --tls-verify=false
expect_usage_error "push without a destination: usage error" "push" "$STOWAGE" push small.json
expect_error "push of a missing image JSON names it" "no-such.json" push no-such.json "$R/x:1"
fails_cleanly "push to an invalid reference (upper case repository) names it" 'Bad/Repo' push small.json "$R/Bad/Repo:1"

# --- content changed since the build: same size, same mtime ---
# These images are built without the blob cache (STOWAGE_BLOB_CACHE_MAX=0), so
# the push must synthesise their layers from the trees: a push from the cache
# sends the blobs as built and reads no tree (68-blob-cache.sh).
mkdir -p tree/a tree/b tree/c
head -c 300000 /dev/urandom >tree/a/data && head -c 2000000 /dev/urandom >tree/b/data && head -c 300000 /dev/urandom >tree/c/data
graph_json "$SCRATCH/tree/a" "$SCRATCH/tree/b" "$SCRATCH/tree/c" >tree.graph
expect_success "build: a plain-directory graph image (tree/a, tree/b, tree/c)" \
	env STOWAGE_BLOB_CACHE_MAX=0 "$STOWAGE" build --graph tree.graph --arch amd64 --cache-dir "$CACHE" --name mod --tag 1 \
	-o tree.json
bdigest=$(jq -r --arg p "$SCRATCH/tree/b" '.layers[] | select(any(.paths[]; (.path? // .) == $p)) | .digest' tree.json)
expect_success "tree/b has its own layer" test -n "$bdigest"
# an earlier, good image under the tag that the failing push targets
expect_success "push small.json $R/mod:keep (a tag the failed push must leave alone)" \
	push small.json "$R/mod:keep" --digestfile keep.digest
{ jq -r '.layers[].digest, .config_digest' small.json; dig keep.digest; echo; } >good-blobs
# one byte of tree/b/data inverted (so it surely differs); size and mtime kept
touch -r tree/b/data tree/b/stamp
sum_before=$(sha256 tree/b/data) mtime_before=$(stat -c %Y.%y tree/b/data)
byte=$(od -An -tu1 -j1000000 -N1 tree/b/data | tr -d ' ')
printf "\\x$(printf %02x $((255 - byte)))" | dd of=tree/b/data bs=1 seek=1000000 conv=notrunc status=none
touch -r tree/b/stamp tree/b/data && rm tree/b/stamp
expect_success "tree/b/data changed (sha256), same size and mtime" \
	eval '[ "$(sha256 tree/b/data)" != "$sum_before" ] && [ "$(stat -c %s tree/b/data)" = 2000000 ] && [ "$(stat -c %Y.%y tree/b/data)" = "$mtime_before" ]'
registry_mark
fails_cleanly "push after tree/b/data changed: one line naming tree/b" "$SCRATCH/tree/b" \
	push tree.json "$R/mod:1"
keep mod
expect_success "... and saying the content changed / does not match" grep -qiE 'chang|match|digest|modif' mod.err
expect_success "changed: no manifest published (no mod:1, no manifest PUT)" not_published mod:1
expect_success "changed: no blob with tree/b's recorded digest" blob_absent "$bdigest"
expect_success "changed: the registry holds no blob the image JSONs do not record" only_recorded_blobs tree.json
registry_mark
fails_cleanly "the same push onto an existing tag fails the same way" "$SCRATCH/tree/b" push tree.json "$R/mod:keep"
expect_success "the existing tag still has its old digest" equals "mod:keep" "$(sk_digest "$R/mod:keep" 2>/dev/null)" "$(dig keep.digest)"
expect_success "still no blob the image JSONs do not record" only_recorded_blobs tree.json
fails_cleanly "copy to docker:// fails the same way" "$SCRATCH/tree/b" \
	"$STOWAGE" copy tree.json "docker://$R/mod:2" --tls-verify=false --cache-dir "$CACHE"
registry_mark
fails_cleanly "push --jobs 1 fails the same way" "$SCRATCH/tree/b" push tree.json "$R/mod:3" --jobs 1
expect_success "--jobs 1: nothing published" not_published mod:3

# --- a store path that vanished since the build (never pushed, so it must be read) ---
mkdir -p tree/d && head -c 200000 /dev/urandom >tree/d/data
graph_json "$SCRATCH/tree/a" "$SCRATCH/tree/d" >tree-d.graph
expect_success "build: an image of tree/a and a new tree/d" \
	env STOWAGE_BLOB_CACHE_MAX=0 "$STOWAGE" build --graph tree-d.graph --arch amd64 --cache-dir "$CACHE" --name vanished \
	--tag 1 -o tree-d.json
rm -rf tree/d
registry_mark
fails_cleanly "push after tree/d was removed: one line naming tree/d" "$SCRATCH/tree/d" push tree-d.json "$R/vanished:1"
expect_success "vanished: nothing published" not_published vanished:1

# --- the registry goes away ---
registry_stop
fails_cleanly "push to a registry that was stopped: one line naming it" "$R" push small.json "$R/small:1"

done_testing
