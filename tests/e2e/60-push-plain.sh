#!/usr/bin/env bash
# Registry delivery to a plain-HTTP registry on 127.0.0.1 (docs/registry-cli.md):
# independent readers (skopeo, umoci + chroot, podman) accept what stowage
# pushes; a re-push uploads nothing; another repository mounts the shared
# layers; a changed store path uploads only its layer; --digestfile, tag,
# inspect docker://, copy docker:// without a tag, --format v2s2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64

if registry_start plain 2>"$ERR"; then pass "a plain registry runs on $REGISTRY"; else fail "a plain registry starts" "registry_start plain failed"; done_testing; fi
R=$REGISTRY

# push ARGS...: stowage push with this script's cache; plain HTTP allowed
push() { "$STOWAGE" push "$@" --tls-verify=false --cache-dir "$CACHE"; }
# push_json OUT ARGS...: the same, --json into OUT
push_json() { local out=$1; shift; push "$@" --json >"$out"; }
sk_digest() { skopeo inspect --tls-verify=false "docker://$1" | jq -r .Digest; }
layer_sum() { jq '[.layers[].size] | add' "$1"; }
version_of() { basename "$(readlink -f "$F/$1")" | sed -E 's/^[a-z0-9]{32}-[a-z]+-([0-9.]+)-.*/\1/'; }

# --- images ---
expect_success "build: base layer (bash + coreutils)" "$STOWAGE" layer "$F/bash" "$F/coreutils" --cache-dir "$CACHE" -o base.json
tool_image() { # tool_image TOOL [MORE BUILD ARGS...]
	local t=$1; shift
	"$STOWAGE" build --layer base.json --root "$F/$t-root" --arch amd64 --entrypoint "/bin/$t" \
		--env PATH=/bin --name "$t" --tag 1.0 --cache-dir "$CACHE" "$@" -o "$t.json"
}
expect_success "build: fd" tool_image fd
expect_success "build: rg" tool_image rg
nlayers=$(jq '.layers | length' fd.json)

# --- the registry itself works: skopeo pushes a layout stowage wrote ---
expect_success "infra: stowage copy fd.json oci:layout:1.0" "$STOWAGE" copy fd.json oci:layout:1.0
expect_success "infra: skopeo copy oci:layout:1.0 docker://$R/infra:1" \
	skopeo copy -q --dest-tls-verify=false oci:layout:1.0 "docker://$R/infra:1"

# --- first push ---
expect_success "push --help exits 0" "$STOWAGE" push --help
push_help() { "$STOWAGE" push --help | grep -q '^usage: stowage push'; }
expect_success "push --help prints its usage on stdout" push_help
registry_mark
prereq "push fd.json $R/fd:1.0 --json --digestfile fd.digest" push_json push1.json fd.json "$R/fd:1.0" --digestfile fd.digest
dep expect_success "--json: destination is docker://$R/fd:1.0" jq_ok push1.json '.destination == $d' --arg d "docker://$R/fd:1.0"
dep expect_success "--json: manifest_digest is sha256:<64 hex>" jq_ok push1.json '.manifest_digest | test("^sha256:[0-9a-f]{64}$")'
dep expect_success "--json: every layer, in order, with its digest and size" \
	jq_ok push1.json '[.layers[] | [.digest, .size]] == $w' --argjson w "$(jq -c '[.layers[] | [.digest, .size]]' fd.json)"
dep expect_success "--json: every layer 'uploaded' into the empty registry" jq_ok push1.json '[.layers[].action] | unique == ["uploaded"]'
dep expect_success "--json: config 'uploaded', with the image's config digest" \
	jq_ok push1.json '.config.digest == $c and .config.action == "uploaded"' --arg c "$(jq -r .config_digest fd.json)"
dep expect_success "--json: bytes_uploaded >= the layers' sizes, nothing skipped or mounted" \
	jq_ok push1.json '.bytes_uploaded >= $n and .bytes_skipped == 0 and .bytes_mounted == 0' --argjson n "$(layer_sum fd.json)"
dep expect_success "registry log: $((nlayers + 1)) blob uploads finished into fd (layers + config)" \
	equals "finished uploads" "$(registry_uploaded_digests fd | wc -l)" "$((nlayers + 1))"
dep expect_success "registry log: one manifest PUT to fd" equals "manifest PUTs" "$(registry_manifest_puts fd)" 1

# --- independent readers ---
prereq "skopeo inspect docker://$R/fd:1.0" eval 'skopeo inspect --tls-verify=false "docker://$R/fd:1.0" >sk-fd.json'
dep expect_success "skopeo's Digest = --digestfile" equals "digestfile" "$(dig fd.digest)" "$(jq -r .Digest sk-fd.json)"
dep expect_success "skopeo's Digest = --json manifest_digest" equals "manifest_digest" "$(jq -r .manifest_digest push1.json 2>/dev/null)" "$(jq -r .Digest sk-fd.json)"
dep expect_success "skopeo: the layers are the image JSON's" equals layers "$(jq -c .Layers sk-fd.json)" "$(jq -c '[.layers[].digest]' fd.json)"
dep expect_success "skopeo: linux/amd64" equals platform "$(jq -r '.Os + "/" + .Architecture' sk-fd.json)" linux/amd64
raw_is_oci() {
	skopeo inspect --tls-verify=false --raw "docker://$R/fd:1.0" >raw-fd.json &&
		jq_ok raw-fd.json '.mediaType == "application/vnd.oci.image.manifest.v1+json" and .config.digest == $c' --arg c "$(jq -r .config_digest fd.json)"
}
dep expect_success "skopeo --raw: an OCI manifest (mediaType set) whose config is the image's" raw_is_oci
config_ok() {
	skopeo inspect --tls-verify=false --config "docker://$R/fd:1.0" >cfg-fd.json &&
		jq_ok cfg-fd.json '.config.Entrypoint == ["/bin/fd"] and (.config.Env | index("PATH=/bin") != null)'
}
dep expect_success "skopeo --config: entrypoint /bin/fd, PATH=/bin" config_ok
prereq "skopeo copy docker://$R/fd:1.0 oci:pulled:1.0 (verifies every blob)" \
	skopeo copy -q --src-tls-verify=false "docker://$R/fd:1.0" oci:pulled:1.0
dep prereq "umoci unpack of the pulled image" unpack pulled:1.0 bundle
runs_fd() { run_in bundle/rootfs amd64 /bin/fd --version | tee fd-version.out | grep -qF -- "$(version_of fd)"; }
dep expect_success "chroot: /bin/fd --version prints $(version_of fd)" runs_fd
podman_ref=$R/fd:1.0
at_exit "podman rmi -f $podman_ref"
prereq "podman pull --tls-verify=false $podman_ref" podman pull -q --tls-verify=false "$podman_ref"
podman_id_is_config() { equals "podman image id" "sha256:$(podman image inspect --format '{{.Id}}' "$podman_ref")" "$(jq -r .config_digest fd.json)"; }
dep expect_success "podman: the image ID is the config digest" podman_id_is_config
dep expect_success "podman rmi $podman_ref" podman rmi "$podman_ref"

# --- plain HTTP without --tls-verify=false, on 127.0.0.0/8 and localhost ---
expect_success "push to 127.0.0.1:PORT without --tls-verify=false (plain HTTP on loopback)" \
	"$STOWAGE" push fd.json "$R/fd:no-flag" --cache-dir "$CACHE"
expect_success "push to localhost:PORT without --tls-verify=false (plain HTTP on loopback)" \
	"$STOWAGE" push fd.json "localhost:${R#*:}/fd:localhost" --cache-dir "$CACHE"
summary_line() {
	"$STOWAGE" push fd.json "$R/fd:summary" --tls-verify=false --cache-dir "$CACHE" 2>summary.err >summary.out ||
		{ echo "exit $?: $(head -c 300 summary.err)" >&2; return 1; }
	[ ! -s summary.out ] || { echo "stdout not empty: $(head -c 300 summary.out)" >&2; return 1; }
	[ "$(wc -l <summary.err)" -eq 1 ] && grep -q "^stowage: pushed $R/fd:summary sha256:[0-9a-f]\{64\} (" summary.err ||
		{ echo "stderr: $(head -c 500 summary.err)" >&2; return 1; }
}
expect_success "without --json: one line 'stowage: pushed $R/fd:summary sha256:... (...)' on stderr" summary_line

# --- re-push: nothing uploaded ---
registry_mark
prereq "re-push fd.json $R/fd:1.0 --json" push_json push2.json fd.json "$R/fd:1.0"
dep expect_success "re-push: bytes_uploaded == 0" jq_ok push2.json '.bytes_uploaded == 0'
dep expect_success "re-push: every layer 'skipped', config 'skipped'" \
	jq_ok push2.json '([.layers[].action] | unique == ["skipped"]) and .config.action == "skipped"'
dep expect_success "re-push: bytes_skipped >= the layers' sizes" jq_ok push2.json '.bytes_skipped >= $n' --argjson n "$(layer_sum fd.json)"
dep expect_success "re-push: the same manifest digest" equals digest "$(jq -r .manifest_digest push2.json)" "$(dig fd.digest)"
dep expect_success "re-push: no PATCH or PUT to blobs/uploads in the registry log" \
	is_zero "PATCH/PUT on blobs/uploads" "$(registry_log_count 'PATCH|PUT' '/blobs/uploads/')"
dep expect_success "re-push: no POST to blobs/uploads either" is_zero "POST on blobs/uploads" "$(registry_log_count POST '/blobs/uploads/')"
# the tag already names this manifest: one HEAD of it replaces a HEAD per blob and the manifest PUT
dep expect_success "re-push: two requests in all (GET /v2/, HEAD of the tag's manifest)" \
	equals "re-push requests" "$(registry_requests | awk '{ print $1, $2 }' | tr '\n' ';')" "GET /v2/;HEAD /v2/fd/manifests/1.0;"

# --- another repository: the shared layers are mounted, not uploaded ---
shared=$(jq -r --slurpfile fd fd.json '[$fd[0].layers[].digest] as $f | .layers[] | select(.digest | IN($f[])) | .digest' rg.json)
nshared=$(grep -c . <<<"$shared")
shared_json=$(jq -Rnc '[inputs]' <<<"$shared")
expect_success "rg shares $nshared layer(s) with fd (the base and more)" test "$nshared" -ge 1
registry_mark
prereq "push rg.json $R/rg:1.0 --json (another repository)" push_json push-rg.json rg.json "$R/rg:1.0"
dep expect_success "rg: the shared layers are 'mounted', mounted_from 'fd'" \
	jq_ok push-rg.json '[.layers[] | select(.digest | IN($s[])) | [.action, .mounted_from]] | unique == [["mounted", "fd"]]' --argjson s "$shared_json"
dep expect_success "rg: the other layers are 'uploaded'" \
	jq_ok push-rg.json '[.layers[] | select(.digest | IN($s[]) | not) | .action] | unique == ["uploaded"]' --argjson s "$shared_json"
dep expect_success "rg: bytes_mounted = the shared layers' sizes" \
	jq_ok push-rg.json '.bytes_mounted == $n' --argjson n "$(jq --argjson s "$shared_json" '[.layers[] | select(.digest | IN($s[])) | .size] | add' rg.json)"
mounted_ok() {
	equals "mount POSTs answered 201 (digest from)" "$(registry_mount_requests rg | awk '$3 == 201 { print $1, $2 }' | sort -u)" \
		"$(sed 's/$/ fd/' <<<"$shared" | sort -u)"
}
dep expect_success "registry log: POST /v2/rg/blobs/uploads/?mount=<digest>&from=fd answered 201, for each shared layer" mounted_ok
no_shared_upload() {
	local up
	up=$(registry_uploaded_digests rg | grep -xF -f <(echo "$shared")) && { echo "uploaded anyway: $up" >&2; return 1; }
	return 0
}
dep expect_success "registry log: no shared layer uploaded into rg" no_shared_upload
dep expect_success "skopeo copy docker://$R/rg:1.0 oci:pulled:rg (the mounted blobs are readable)" \
	skopeo copy -q --src-tls-verify=false "docker://$R/rg:1.0" oci:pulled:rg

# --- one store path changed: only its layer goes up ---
mkdir -p tree/a tree/b tree/c
head -c 600000 /dev/urandom >tree/a/data && head -c 300000 /dev/urandom >tree/b/data && head -c 400000 /dev/urandom >tree/c/data
graph_json "$SCRATCH/tree/a" "$SCRATCH/tree/b" "$SCRATCH/tree/c" >tree.graph
tree_image() { "$STOWAGE" build --graph tree.graph --arch amd64 --compression none --cache-dir "$CACHE" -o "$1"; }
expect_success "build: a plain-directory graph image (tree/a, tree/b, tree/c)" tree_image tree1.json
expect_success "it has one layer per directory" equals layers "$(jq '.layers | length' tree1.json)" 3
prereq "push tree1.json $R/tree:1" push_json push-tree1.json tree1.json "$R/tree:1"
head -c 300000 /dev/urandom >tree/b/data
expect_success "build: the same graph after tree/b/data changed" tree_image tree2.json
changed=$(jq -r --slurpfile o tree1.json '[$o[0].layers[].digest] as $d | .layers[] | select(.digest | IN($d[]) | not) | .digest' tree2.json)
bdigest=$(jq -r --arg p "$SCRATCH/tree/b" '.layers[] | select(any(.paths[]; (.path? // .) == $p)) | .digest' tree2.json)
expect_success "rebuild: exactly one layer changed, tree/b's" equals "changed layers" "$changed" "$bdigest"
registry_mark
dep prereq "push tree2.json $R/tree:2 (after tree1 was pushed)" push_json push-tree2.json tree2.json "$R/tree:2"
dep expect_success "tree2: tree/b's layer 'uploaded', the other two 'skipped'" \
	jq_ok push-tree2.json '[.layers[] | [.digest == $b, .action]] | sort == [[false, "skipped"], [false, "skipped"], [true, "uploaded"]]' --arg b "$bdigest"
dep expect_success "tree2: bytes_uploaded = tree/b's layer (+ the config), not the others' 1 MB" \
	jq_ok push-tree2.json '.bytes_uploaded >= $s and .bytes_uploaded < $s + 102400' --argjson s "$(jq --arg b "$bdigest" '.layers[] | select(.digest == $b) | .size' tree2.json)"
dep expect_success "registry log: only tree/b's layer and the new config were uploaded" \
	equals "finished uploads" "$(registry_uploaded_digests tree)" "$(printf '%s\n' "$bdigest" "$(jq -r .config_digest tree2.json)" | sort)"

# --- a config-only change: only the config goes up ---
expect_success "build: fd with one more --env (same layers, new config)" eval 'tool_image fd --env EXTRA=1 && mv fd.json fd-env.json && tool_image fd'
registry_mark
prereq "push fd-env.json $R/fd:env" push_json push-env.json fd-env.json "$R/fd:env"
dep expect_success "config-only change: every layer 'skipped', config 'uploaded'" \
	jq_ok push-env.json '([.layers[].action] | unique == ["skipped"]) and .config.action == "uploaded"'
dep expect_success "registry log: only the config uploaded" \
	equals "finished uploads" "$(registry_uploaded_digests fd)" "$(jq -r .config_digest fd-env.json)"

# --- tags are added server-side ---
registry_mark
prereq "stowage tag $R/fd:1.0 latest stable" "$STOWAGE" tag "$R/fd:1.0" latest stable --tls-verify=false
dep expect_success "tag: no blob request at all in the registry log" is_zero "requests on /blobs/" "$(registry_log_count '[A-Z]+' '/blobs/')"
dep expect_success "tag: two manifest PUTs, one per new tag" equals "manifest PUTs" "$(registry_manifest_puts fd)" 2
for t in latest stable; do
	dep expect_success "skopeo: fd:$t has fd:1.0's digest" equals "fd:$t" "$(sk_digest "$R/fd:$t" 2>/dev/null)" "$(dig fd.digest)"
done
tags_listed() { registry_curl /v2/fd/tags/list >tags.json && jq_ok tags.json '.tags | contains(["1.0", "latest", "stable"])'; }
dep expect_success "tags/list has 1.0, latest and stable" tags_listed

# --- inspect docker:// ---
prereq "stowage inspect docker://$R/fd:1.0" eval '"$STOWAGE" inspect "docker://$R/fd:1.0" --tls-verify=false >inspect.txt'
inspect_shows() { # inspect_shows DIGEST...: inspect.txt names each (its first 12 hex digits at least)
	local d
	for d in "$@"; do
		grep -qF "${d:0:19}" inspect.txt || { echo "no ${d:0:19} in: $(head -c 600 inspect.txt)" >&2; return 1; }
	done
}
dep expect_success "inspect: shows every layer (digests)" inspect_shows $(jq -r '.layers[].digest' fd.json)
dep expect_success "inspect: shows the config (its digest)" inspect_shows "$(jq -r .config_digest fd.json)"
dep expect_success "inspect: shows the config (entrypoint /bin/fd)" grep -qF /bin/fd inspect.txt
prereq "stowage inspect docker://$R/fd:1.0 --json" eval '"$STOWAGE" inspect "docker://$R/fd:1.0" --tls-verify=false --json >inspect.json'
inspect_json_has() { # the manifest digest and every blob digest appear as strings in the JSON
	local d strings
	strings=$(jq -r '.. | strings' inspect.json) || return
	for d in "$(dig fd.digest)" $(jq -r '.layers[].digest, .config_digest' fd.json); do
		grep -qxF "$d" <<<"$strings" || { echo "$d missing from: $(head -c 600 inspect.json)" >&2; return 1; }
	done
}
dep expect_success "inspect --json: has the manifest digest, the layers and the config" inspect_json_has
dep expect_success "inspect --json: .manifest_digest (as for an image JSON) is the pushed digest" \
	jq_ok inspect.json '.manifest_digest == $d' --arg d "$(dig fd.digest)"
expect_success "stowage inspect docker://$R/fd@DIGEST" "$STOWAGE" inspect "docker://$R/fd@$(dig fd.digest)" --tls-verify=false

# --- copy to docker://REPO without a tag: the image's tag, else latest ---
prereq "copy fd.json docker://$R/fd-copy (no tag)" "$STOWAGE" copy fd.json "docker://$R/fd-copy" --tls-verify=false --cache-dir "$CACHE"
dep expect_success "it is tagged 1.0, the image JSON's tag" equals "fd-copy:1.0" "$(sk_digest "$R/fd-copy:1.0" 2>/dev/null)" "$(dig fd.digest)"
expect_success "build: an image with no --tag" "$STOWAGE" build --graph tree.graph --arch amd64 --compression none --cache-dir "$CACHE" -o notag.json
prereq "copy notag.json docker://$R/notag (no tag anywhere)" "$STOWAGE" copy notag.json "docker://$R/notag" --tls-verify=false --cache-dir "$CACHE"
dep expect_success "it is tagged latest" skopeo inspect --tls-verify=false "docker://$R/notag:latest"

# --- --format v2s2: a Docker schema 2 manifest ---
prereq "push --format v2s2 $R/fd-v2s2:1.0" push fd.json "$R/fd-v2s2:1.0" --format v2s2 --digestfile v2s2.digest
raw_is_v2s2() {
	skopeo inspect --tls-verify=false --raw "docker://$R/fd-v2s2:1.0" >raw-v2s2.json &&
		jq_ok raw-v2s2.json '.schemaVersion == 2 and .mediaType == "application/vnd.docker.distribution.manifest.v2+json"'
}
dep prereq "v2s2: skopeo --raw mediaType is application/vnd.docker.distribution.manifest.v2+json" raw_is_v2s2
dep expect_success "v2s2: Docker config and layer media types throughout" jq_ok raw-v2s2.json \
	'.config.mediaType == "application/vnd.docker.container.image.v1+json" and ([.layers[].mediaType] | unique == ["application/vnd.docker.image.rootfs.diff.tar.gzip"])'
dep expect_success "v2s2: the same layer digests" equals layers "$(jq -c '[.layers[].digest]' raw-v2s2.json)" "$(jq -c '[.layers[].digest]' fd.json)"
dep expect_success "v2s2: --digestfile matches skopeo's Digest" equals digest "$(dig v2s2.digest)" "$(sk_digest "$R/fd-v2s2:1.0")"
dep expect_success "v2s2: skopeo copy to an OCI layout accepts it" skopeo copy -q --src-tls-verify=false "docker://$R/fd-v2s2:1.0" oci:pulled:v2s2

done_testing
