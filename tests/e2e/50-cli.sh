#!/usr/bin/env bash
# The command line: help and usage errors, --perm, layering limits, and the
# digest cache as the --json summary reports it.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64

# --- help and usage errors ---
help_is_usage() { "$STOWAGE" "$1" --help | grep -q "^usage: stowage $1"; }
expect_success "stowage --help exits 0" "$STOWAGE" --help
for cmd in build layer copy inspect; do
	expect_success "$cmd --help exits 0" "$STOWAGE" "$cmd" --help
	expect_success "$cmd --help prints its usage on stdout" help_is_usage "$cmd"
	expect_usage_error "$cmd --bogus: exit 2, one line" "--bogus" "$STOWAGE" "$cmd" --bogus
done
# DESIGN.md: "non-zero with one clear line on stderr naming the input at fault"
expect_usage_error "stowage --bogus (before any command): exit 2, one line" "--bogus" "$STOWAGE" --bogus
expect_usage_error "build without --arch" "--arch" "$STOWAGE" build "$F/fd" -o x.json
expect_usage_error "--arch without its value" "--arch" "$STOWAGE" build "$F/fd" -o x.json --arch
expect_error "--arch that does not exist" "sparc" "$STOWAGE" build "$F/fd" --arch sparc -o x.json
expect_usage_error "--max-layers 0" "--max-layers" "$STOWAGE" build "$F/fd" --arch amd64 --max-layers 0 -o x.json
expect_usage_error "--compression lzma" "lzma" "$STOWAGE" build "$F/fd" --arch amd64 --compression lzma -o x.json
expect_usage_error "--strategy fast" "fast" "$STOWAGE" build "$F/fd" --arch amd64 --strategy fast -o x.json
expect_error "--perm with a bad regex" "'['" "$STOWAGE" build "$F/fd" --arch amd64 --perm '[=0755' -o x.json
expect_usage_error "--perm with a bad mode" "99999" "$STOWAGE" build "$F/fd" --arch amd64 --perm 'x=99999' -o x.json
expect_error "--layer that does not exist" "no-such.json" "$STOWAGE" build "$F/fd" --arch amd64 --layer no-such.json -o x.json
expect_usage_error "copy without DEST" "DEST" "$STOWAGE" copy x.json
expect_error "inspect of a missing file" "no-such.json" "$STOWAGE" inspect no-such.json

# --- --perm on a copy-to-root tree ---
mkdir -p root/tmp root/etc && echo root:x:0:0::/:/bin/sh >root/etc/passwd
expect_success "--perm: build" "$STOWAGE" build --root root --arch amd64 --compression none --cache-dir "$CACHE" \
	--perm '^/tmp$=1777' --perm '^/etc/passwd$=0640:1000:100' -o perm.json
expect_success "--perm: uncompressed layer" eval 'layer_tar perm.json 0 >perm.tar'
field_is() { same "$(tar_field perm.tar "$1" "$2")" "$3"; }
expect_success "--perm '^/tmp\$=1777': tmp has mode 1777" field_is tmp mode 1777
expect_success "--perm ...=0640:1000:100: mode 640" field_is etc/passwd mode 640
expect_success "--perm ...=0640:1000:100: uid 1000" field_is etc/passwd uid 1000
expect_success "--perm ...=0640:1000:100: gid 100" field_is etc/passwd gid 100
expect_success "--perm leaves other entries alone" field_is etc mode 755

# --- layering limits ---
closure=$(nix-store -qR "$F/fd-root" | sort)
nlayers() { jq '.layers | length' "$1"; }
store_layers() { jq '[.layers[] | select(all(.paths[]; has("rewrite") | not))] | length' "$1"; }
root_layers() { jq '[.layers[] | select(any(.paths[]; has("rewrite")))] | length' "$1"; }
# each_path_once IMAGE: the layers hold the closure, every path exactly once
each_path_once() { same "$(jq -r '.layers[].paths[] | select(has("rewrite") | not) | .path' "$1" | sort)" "$closure"; }
layered() { "$STOWAGE" build --arch amd64 --cache-dir "$CACHE" "$@"; }

expect_success "popularity, 3 layers: build" layered "$F/fd-root" --strategy popularity --max-layers 3 -o pop3.json
expect_success "popularity, 3 layers: exactly 3 store layers" same "$(store_layers pop3.json)" 3
expect_success "popularity, 3 layers: nothing else" same "$(nlayers pop3.json)" 3
expect_success "popularity, 3 layers: the closure, each path once" each_path_once pop3.json
expect_success "popularity, --root, 4 layers: build" layered --root "$F/fd-root" --strategy popularity --max-layers 4 -o pop4r.json
expect_success "popularity, --root, 4 layers: exactly 3 store layers" same "$(store_layers pop4r.json)" 3
expect_success "popularity, --root, 4 layers: plus the root layer" same "$(root_layers pop4r.json)" 1
for n in 1 2 3 4 6 9 12 20; do
	expect_success "default strategy, --max-layers $n: build" layered "$F/fd-root" --max-layers "$n" -o "size$n.json"
	expect_success "default strategy, --max-layers $n: at most $n layers" test "$(nlayers "size$n.json")" -le "$n"
	expect_success "default strategy, --max-layers $n: the closure, each path once" each_path_once "size$n.json"
done
for n in 2 3 5; do
	expect_success "default strategy, --root, --max-layers $n: build" layered --root "$F/fd-root" --max-layers "$n" -o "root$n.json"
	expect_success "default strategy, --root, --max-layers $n: at most $n layers" test "$(nlayers "root$n.json")" -le "$n"
done

# --- digest cache, as the --json summary on stdout reports it ---
summary() { jq -r ".$1" "$2"; }
cached() { "$STOWAGE" build "$F/fd-root" --arch amd64 --cache-dir "$SCRATCH/cache2" --json -o "$@" >"$1.summary"; }
expect_success "cache: first build, --json" cached first.json
expect_success "cache: first build computed every layer" \
	same "$(summary layers_computed first.json.summary)" "$(summary layers first.json.summary)"
expect_success "cache: first build found nothing cached" same "$(summary layers_cached first.json.summary)" 0
expect_success "cache: second build, --json" cached second.json
expect_success "cache: second build reports layers_cached > 0" test "$(summary layers_cached second.json.summary)" -gt 0
expect_success "cache: second build computed nothing" same "$(summary layers_computed second.json.summary)" 0
expect_success "cache: --no-cache build, --json" cached nocache.json --no-cache
expect_success "cache: --no-cache computes every layer" \
	same "$(summary layers_computed nocache.json.summary)" "$(summary layers nocache.json.summary)"
expect_success "cache: --no-cache reports nothing cached" same "$(summary layers_cached nocache.json.summary)" 0

# A changed file must miss the cache even with its size and mtime restored.
mkdir -p tree && echo before >tree/f && touch -d @1000000000 tree/f
graph_json "$SCRATCH/tree" >tree.json
tree_image() { "$STOWAGE" build --graph tree.json --arch amd64 --cache-dir "$CACHE" "$@"; }
expect_success "cache: plain tree, first build" tree_image -o tree1.json
echo after_ >tree/f && touch -d @1000000000 tree/f
expect_success "cache: rebuild after a same-size, same-mtime change" tree_image -o tree2.json
expect_success "cache: --no-cache rebuild" tree_image --no-cache -o tree3.json
expect_success "cache: the change gave a new digest" test "$(jq -r '.layers[0].digest' tree1.json)" != "$(jq -r '.layers[0].digest' tree2.json)"
expect_success "cache: the cached rebuild equals the --no-cache one" cmp tree2.json tree3.json

# A chain of layer JSONs with the default --max-layers: each adds one layer.
chain() {
	"$STOWAGE" layer "$FIX/amd64/glibc" --cache-dir "$CACHE" -o chain1.json &&
		"$STOWAGE" layer "$FIX/amd64/bash" --layer chain1.json --cache-dir "$CACHE" -o chain2.json &&
		"$STOWAGE" layer "$FIX/amd64/coreutils" --layer chain2.json --cache-dir "$CACHE" -o chain3.json
}
expect_success "layer chain: each link adds one layer by default" chain
expect_success "layer chain: three layers in the third link" same "$(jq '.layers | length' chain3.json)" 3

done_testing
