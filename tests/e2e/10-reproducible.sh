#!/usr/bin/env bash
# Same inputs give byte-identical JSON whatever the cache and --jobs, and every
# digest the JSON records is the sha256 of the blob that `copy` writes.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64

base() { "$STOWAGE" layer "$F/bash" "$F/coreutils" --cache-dir "$CACHE" "$@"; }
fd_image() { # fd_image OPTION...: the fd tool image on the shared base layer
	"$STOWAGE" build --layer base.json --root "$F/fd-root" --arch amd64 --entrypoint /bin/fd \
		--env PATH=/bin --name fd --tag 1.0 --cache-dir "$CACHE" "$@"
}

# Layer JSON: the first build fills the cache, the second reads it.
expect_success "layer: bash + coreutils base" base -o base.json
expect_success "layer: rebuilt from the digest cache" base -o base-cached.json
expect_success "layer: cached rebuild is byte-identical" cmp base.json base-cached.json
expect_success "layer: --no-cache rebuild" base --no-cache -o base-nocache.json
expect_success "layer: --no-cache rebuild is byte-identical" cmp base.json base-nocache.json
# The closure Nix gave is cached too: a warm rebuild runs no nix at all,
# unless a path of the cached closure is gone.
without_nix() { local PATH=/nonexistent; "$@"; }
expect_success "layer: a warm rebuild runs no nix (no nix on PATH)" without_nix base -o base-nonix.json
expect_success "layer: ... and is byte-identical" cmp base.json base-nonix.json
expect_failure "layer: --no-cache asks nix (none on PATH: fails)" without_nix base --no-cache -o x.json
gone_cache() { # a copy of the cache whose cached closures list a path that does not exist
	cp -r "$CACHE" cache-gone && ls cache-gone/closures/*/* >/dev/null &&
		for f in cache-gone/closures/*/*; do # one line a path: PATH, NARSIZE, reference lines
			printf '/nix/store/00000000000000000000000000000000-gone\t0\t\n' >>"$f" || return 1
		done
}
expect_success "layer: a cached closure with a path gone (prepared)" gone_cache
expect_failure "layer: ... is not used (asks nix: none on PATH)" without_nix base --cache-dir cache-gone -o x.json

# Image JSON: cache on and off, and any number of hashing threads.
expect_success "build: fd image" fd_image -o fd.json
expect_success "build: rebuilt from the digest cache" fd_image -o fd-cached.json
expect_success "build: cached rebuild is byte-identical" cmp fd.json fd-cached.json
for jobs in 1 2 5; do
	expect_success "build: --no-cache --jobs $jobs" fd_image --no-cache --jobs "$jobs" -o "fd-j$jobs.json"
	expect_success "build: --no-cache --jobs $jobs is byte-identical" cmp fd.json "fd-j$jobs.json"
done
# Uncompressed layers are hashed two a thread (SHA-NI lanes); one lane
# (OpenSSL) must give the same bytes.
one_lane() { local -x STOWAGE_HASH_LANES=1; fd_image "$@"; }
expect_success "build: uncompressed, two layers a thread" fd_image --no-cache --compression none -o fd-none.json
expect_success "build: uncompressed, one lane (OpenSSL)" one_lane --no-cache --compression none -o fd-none-1.json
expect_success "build: ... byte-identical" cmp fd-none.json fd-none-1.json
expect_success "build: fd's uncompressed layers all recorded" eval '[ "$(jq "[.layers[] | select(.diff_id == .digest)] | length" fd-none.json)" -ge 2 ]'
expect_success "build: with a fresh cache directory" fd_image --cache-dir "$SCRATCH/cache2" -o fd-fresh.json
expect_success "build: fresh-cache build is byte-identical" cmp fd.json fd-fresh.json

# Plain directories take another cache path (keyed on every file's stat).
mkdir -p tree/sub && echo data >tree/sub/file && ln -s sub/file tree/link
graph_json "$SCRATCH/tree" >tree.json
tree_image() { "$STOWAGE" build --graph tree.json --arch amd64 --cache-dir "$CACHE" "$@"; }
expect_success "build: plain-dir graph" tree_image -o tree1.json
expect_success "build: plain-dir graph, cached" tree_image -o tree2.json
expect_success "build: plain-dir graph, --no-cache" tree_image --no-cache -o tree3.json
expect_success "build: plain-dir graph, cached rebuild is byte-identical" cmp tree1.json tree2.json
expect_success "build: plain-dir graph, --no-cache rebuild is byte-identical" cmp tree1.json tree3.json

# Recorded digests against the blobs an OCI layout receives, per compression.
blob_matches() { # blob_matches LAYOUT DIGEST: blobs/sha256/<hex> exists and hashes to <hex>
	local f=$1/blobs/sha256/${2#sha256:}
	[ -f "$f" ] && same "sha256:$(sha256 "$f")" "$2"
}
blob_size_matches() { same "$(stat -c %s "$1/blobs/sha256/${2#sha256:}")" "$3"; }
diff_id_matches() { # diff_id_matches LAYOUT DIGEST DIFF_ID COMPRESSION
	local f=$1/blobs/sha256/${2#sha256:} un
	case $4 in gzip) un="gzip -dc" ;; zstd) un="zstd -dcq" ;; none) un="cat" ;; esac
	same "sha256:$($un <"$f" | sha256sum | cut -d' ' -f1)" "$3"
}
manifest_lists_layers() { # the layout's manifest names the JSON's layers, in order
	local m
	m=$(jq -r '.manifests[0].digest' "$1/index.json" | cut -d: -f2) &&
		same "$(jq -c '[.layers[].digest]' "$1/blobs/sha256/$m")" "$(jq -c '[.layers[].digest]' "$2")"
}
inspect_knows_manifest_digest() { # inspect --json gives the manifest digest the layout has
	same "$("$STOWAGE" inspect "$2" --json | jq -r .manifest_digest)" "$(jq -r '.manifests[0].digest' "$1/index.json")"
}

# check_layout WHAT IMAGE LAYOUT: every digest IMAGE records names a blob of LAYOUT that hashes to it
check_layout() {
	local what=$1 img=$2 lay=$3 i n digest comp
	n=$(jq '.layers | length' "$img")
	for ((i = 0; i < n; i++)); do
		digest=$(jq -r ".layers[$i].digest" "$img") comp=$(jq -r ".layers[$i].compression" "$img")
		expect_success "$what: layer $i blob is named by its sha256" blob_matches "$lay" "$digest"
		expect_success "$what: layer $i blob has the recorded size" \
			blob_size_matches "$lay" "$digest" "$(jq -r ".layers[$i].size" "$img")"
		expect_success "$what: layer $i diff_id is the sha256 of the uncompressed ($comp) blob" \
			diff_id_matches "$lay" "$digest" "$(jq -r ".layers[$i].diff_id" "$img")" "$comp"
	done
	expect_success "$what: config blob is named by its sha256" blob_matches "$lay" "$(jq -r .config_digest "$img")"
	expect_success "$what: manifest blob is named by its sha256" \
		blob_matches "$lay" "$(jq -r '.manifests[0].digest' "$lay/index.json")"
	expect_success "$what: manifest lists the recorded layers" manifest_lists_layers "$lay" "$img"
}

expect_success "fd on the base: copy to oci:oci-fd" "$STOWAGE" copy fd.json oci:oci-fd:1.0
check_layout "fd on the base" fd.json oci-fd
for comp in gzip zstd none; do
	expect_success "$comp: build (4 layers)" "$STOWAGE" build --root "$F/fd-root" --arch amd64 \
		--max-layers 4 --compression "$comp" --cache-dir "$CACHE" -o "fd-$comp.json"
	expect_success "$comp: copy to oci:oci-$comp" "$STOWAGE" copy "fd-$comp.json" "oci:oci-$comp:1.0"
	check_layout "$comp" "fd-$comp.json" "oci-$comp"
done
# `inspect --help` promises "the manifest digest the image will have".
expect_success "inspect --json gives the manifest digest the layout has" inspect_knows_manifest_digest oci-fd fd.json

# The delivered bytes are reproducible too, and a docker-archive names layers by diff_id.
expect_success "copy: a second layout" "$STOWAGE" copy fd.json oci:oci-again:1.0
expect_success "copy: the two layouts are identical" diff -r oci-fd oci-again
expect_success "copy: docker-archive" "$STOWAGE" copy fd.json docker-archive:a.tar
expect_success "copy: docker-archive again" "$STOWAGE" copy fd.json docker-archive:b.tar
expect_success "copy: the two docker-archives are byte-identical" cmp a.tar b.tar
archive_layers_match() { # each <diff_id>/layer.tar in the archive hashes to its diff_id
	local d
	for d in $(jq -r '.layers[].diff_id | ltrimstr("sha256:")' fd.json); do
		same "$(tar -xOf a.tar "$d/layer.tar" | sha256sum | cut -d' ' -f1)" "$d" || return 1
	done
}
expect_success "copy: docker-archive layer.tar files hash to their diff_ids" archive_layers_match

done_testing
