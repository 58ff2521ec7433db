#!/usr/bin/env bash
# stowage release (issue 4, docs/release-cli.md): fd for amd64 and arm64
# released as an OCI index under every tag the rules give (version, explicit,
# latest, major/minor, branch, arch tags), from flags or the CI environment;
# skopeo picks each architecture and it runs; the index's annotations; a
# single image stays a plain manifest; a re-release uploads nothing; several
# registries in one run; --dry-run contacts no registry; the errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cd "$SCRATCH" || exit 1

# Only what a check sets comes from the environment (CI may set these).
unset VERSION TAGS GITHUB_REF_NAME GITHUB_SERVER_URL GITHUB_REPOSITORY GITHUB_SHA GITHUB_ACTOR GITHUB_TOKEN SOURCE_DATE_EPOCH

if registry_start plain 2>"$ERR"; then pass "a plain registry runs on $REGISTRY"; else fail "a plain registry starts" "registry_start plain failed"; done_testing; fi
R=$REGISTRY

for arch in amd64 arm64; do
	F=$FIX/$arch
	expect_success "build: $arch base layer" "$STOWAGE" layer "$F/bash" "$F/coreutils" --cache-dir "$CACHE" -o "base-$arch.json"
	expect_success "build: $arch fd image" "$STOWAGE" build --layer "base-$arch.json" --root "$F/fd-root" --arch "$arch" \
		--entrypoint /bin/fd --cache-dir "$CACHE" -o "fd-$arch.json"
done

# Releases run in a git work tree with one commit, on branch main; the index's
# created time comes from SOURCE_DATE_EPOCH, so every release of v1.2.3 from
# here makes the same index.
WT=$SCRATCH/wt
mkdir -p "$WT" && cd "$WT" && git init -q -b main && git -c user.email=a@b -c user.name=t commit -q --allow-empty -m x || exit 1
HEAD_REV=$(git rev-parse HEAD)
EPOCH=1700000000
export SOURCE_DATE_EPOCH=$EPOCH

# rel ARGS...: stowage release of both fd images with this script's cache; plain HTTP allowed
rel() { "$STOWAGE" release "$SCRATCH/fd-amd64.json" "$SCRATCH/fd-arm64.json" --tls-verify=false --cache-dir "$CACHE" "$@"; }
# rel_json OUT ARGS...: the same with --json into OUT
rel_json() { local out=$1; shift; rel "$@" --json >"$out"; }
# rel_env OUT VAR=VALUE... -- ARGS...: rel_json with those variables in the environment
rel_env() {
	local out=$1 vars=(); shift
	while [ "$1" != -- ]; do vars+=("$1"); shift; done
	shift
	env "${vars[@]}" "$STOWAGE" release "$SCRATCH/fd-amd64.json" "$SCRATCH/fd-arm64.json" \
		--tls-verify=false --cache-dir "$CACHE" "$@" --json >"$out"
}
raw() { skopeo inspect --raw --tls-verify=false "docker://$1"; }
# The media types a manifest request accepts (a string: arrays do not reach the check functions' child bash)
ACCEPT='application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json'
# tag_digest HOST:PORT REPO REF: the registry's digest of REF (empty if there is none)
tag_digest() {
	curl -sfI --max-time 10 -H "Accept: $ACCEPT" "http://$1/v2/$2/manifests/$3" | tr -d '\r' |
		sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p'
}
# no_tag HOST:PORT REPO REF: the registry has no manifest under REF
no_tag() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -I -H "Accept: $ACCEPT" "http://$1/v2/$2/manifests/$3")
	[ "$code" = 404 ] || { echo "$1/$2:$3 answers $code, want 404" >&2; return 1; }
}
# tags_are HOST:PORT REPO DIGEST TAG...: the repository's tags are exactly TAG..., each pointing at DIGEST
tags_are() {
	local host=$1 repo=$2 want=$3 got t; shift 3
	[ -n "$want" ] || { echo "no digest to compare with" >&2; return 1; }
	got=$(curl -sf --max-time 10 "http://$host/v2/$repo/tags/list" | jq -c '.tags // [] | sort')
	[ "$got" = "$(jq -cn '$ARGS.positional | sort' --args "$@")" ] ||
		{ echo "$host/$repo tags: got $got, want $(jq -cn '$ARGS.positional | sort' --args "$@")" >&2; return 1; }
	for t in "$@"; do
		got=$(tag_digest "$host" "$repo" "$t")
		[ "$got" = "$want" ] || { echo "$host/$repo:$t is '$got', want '$want'" >&2; return 1; }
	done
}
# platforms FILE: the index's platforms, sorted, as os/arch[/variant]
platforms() { jq -c '[.manifests[].platform | "\(.os)/\(.architecture)\(if .variant then "/" + .variant else "" end)"] | sort' "$1"; }
# no_blob_after_tags REPO: since the mark, no blob request on REPO after the first manifest PUT by tag
no_blob_after_tags() {
	registry_requests 'POST|PATCH|PUT' "^/v2/$1/(blobs/uploads/|manifests/)" | awk '
		$2 ~ /\/manifests\// && $2 !~ /\/manifests\/sha256:/ { tagged = 1; next }
		tagged && $2 ~ /\/blobs\/uploads\// { print "blob request after a tag was PUT: " $0 > "/dev/stderr"; bad = 1 }
		END { exit bad }'
}
# created_is FILE EPOCH: the index's created annotation is that time (RFC 3339)
created_is() {
	local c
	c=$(jq -r '.annotations["org.opencontainers.image.created"] // empty' "$1")
	[ -n "$c" ] && [ "$(date -ud "$c" +%s 2>/dev/null)" = "$2" ] ||
		{ echo "created is '$c', want $(date -u -d "@$2" +%Y-%m-%dT%H:%M:%SZ)" >&2; return 1; }
}

# --- 1. the first release: fd for amd64 and arm64, tags 1.2.3 and latest ---
expect_success "release --help exits 0" "$STOWAGE" release --help
registry_mark
prereq "release fd-amd64 fd-arm64 --repository $R/fd --version v1.2.3 --branch main --json" \
	rel_json rel1.json --repository "$R/fd" --version v1.2.3 --branch main
D=$(jq -r '.repositories[0].digest // empty' rel1.json 2>/dev/null)
dep expect_success "--json: version 1.2.3, tags [1.2.3, latest] in that order" \
	jq_ok rel1.json '.version == "1.2.3" and .tags == ["1.2.3", "latest"]'
dep expect_success "--json: one repository, $R/fd, an index sha256:<64 hex>" \
	jq_ok rel1.json '(.repositories | length) == 1 and .repositories[0].repository == $r and .repositories[0].index == true
		and (.repositories[0].digest | test("^sha256:[0-9a-f]{64}$"))' --arg r "$R/fd"
dep expect_success "--json: the images are amd64 and arm64" \
	jq_ok rel1.json '[.repositories[0].images[] | .architecture] | sort == ["amd64", "arm64"]'
dep expect_success "--json: each image has a digest and uploaded something" \
	jq_ok rel1.json 'all(.repositories[0].images[]; (.digest | test("^sha256:[0-9a-f]{64}$")) and .bytes_uploaded > 0)'
dep expect_success "registry: tags 1.2.3 and latest, both the index of --json" tags_are "$R" fd "$D" 1.2.3 latest
dep expect_success "registry log: each image PUT by digest (manifests/sha256:...)" \
	equals "manifest PUTs by digest" "$(registry_log_count PUT '^/v2/fd/manifests/sha256:')" 2
dep expect_success "registry log: the index PUT under 1.2.3 and latest" \
	equals "tag PUTs" "$(registry_requests PUT '^/v2/fd/manifests/(1\.2\.3|latest)$' | awk '{print $2}' | sort -u | wc -l)" 2
dep expect_success "registry log: no blob request after the first tag (further tags are manifest PUTs only)" no_blob_after_tags fd
dep expect_success "registry log: no blob uploaded twice" is_zero "blobs uploaded twice" "$(registry_uploaded_digests fd | uniq -d | wc -l)"

prereq "skopeo inspect --raw docker://$R/fd:1.2.3" eval 'raw "$R/fd:1.2.3" >idx.json'
dep expect_success "the tag holds an OCI index" jq_ok idx.json '.mediaType == "application/vnd.oci.image.index.v1+json"'
dep expect_success "the index's digest is the one --json gave" equals "index digest" "sha256:$(sha256 idx.json)" "$D"
dep expect_success "the index has linux/amd64 and linux/arm64/v8" equals platforms "$(platforms idx.json)" '["linux/amd64","linux/arm64/v8"]'
dep expect_success "the index's children are the images of --json, by architecture" equals children \
	"$(jq -c '[.manifests[] | [.platform.architecture, .digest]] | sort' idx.json)" \
	"$(jq -c '[.repositories[0].images[] | [.architecture, .digest]] | sort' rel1.json)"
dep expect_success "annotation org.opencontainers.image.version = 1.2.3" \
	jq_ok idx.json '.annotations["org.opencontainers.image.version"] == "1.2.3"'
dep expect_success "annotation org.opencontainers.image.created = SOURCE_DATE_EPOCH" created_is idx.json "$EPOCH"
dep expect_success "annotation org.opencontainers.image.revision = git rev-parse HEAD" \
	jq_ok idx.json '.annotations["org.opencontainers.image.revision"] == $h' --arg h "$HEAD_REV"

expect_success "skopeo copy --override-arch arm64 docker://$R/fd:1.2.3 picks the arm64 image" \
	skopeo copy -q --src-tls-verify=false --override-arch arm64 "docker://$R/fd:1.2.3" "oci:$SCRATCH/arm:1"
expect_success "the arm64 copy's config says arm64" same "$(skopeo inspect --config "oci:$SCRATCH/arm:1" | jq -r .architecture)" arm64
expect_success "umoci unpacks the arm64 image" unpack "$SCRATCH/arm:1" "$SCRATCH/arm"
expect_success "the arm64 /bin/fd --version runs under qemu-aarch64" run_in "$SCRATCH/arm/rootfs" arm64 /bin/fd --version
expect_success "skopeo copy --override-arch amd64 docker://$R/fd:1.2.3 picks the amd64 image" \
	skopeo copy -q --src-tls-verify=false --override-arch amd64 "docker://$R/fd:1.2.3" "oci:$SCRATCH/amd:1"
expect_success "the amd64 copy's config says amd64" same "$(skopeo inspect --config "oci:$SCRATCH/amd:1" | jq -r .architecture)" amd64
expect_success "umoci unpacks the amd64 image" unpack "$SCRATCH/amd:1" "$SCRATCH/amd"
expect_success "the amd64 /bin/fd --version runs under chroot" run_in "$SCRATCH/amd/rootfs" amd64 /bin/fd --version

# --- 4. the same release again: same index, nothing uploaded ---
registry_mark
prereq "release the same version again (--json)" rel_json rel2.json --repository "$R/fd" --version v1.2.3 --branch main
dep expect_success "re-release: the same index digest" equals "index digest" "$(jq -r '.repositories[0].digest' rel2.json)" "$D"
dep expect_success "re-release: --json bytes_uploaded 0 for both images" \
	jq_ok rel2.json '(.repositories[0].images | length) == 2 and all(.repositories[0].images[]; .bytes_uploaded == 0)'
dep expect_success "re-release: no blob upload in the registry log" is_zero "blob uploads" "$(registry_blob_uploads fd)"
dep expect_success "re-release: tags still 1.2.3 and latest, on the same index" tags_are "$R" fd "$D" 1.2.3 latest

# --- 2. the tag rules ---
registry_mark
prereq "release --auto-tags major,minor into $R/fd" rel_json mm.json --repository "$R/fd" --version v1.2.3 --branch main --auto-tags major,minor
dep expect_success "major,minor: tags [1.2.3, latest, 1.2, 1] in that order" jq_ok mm.json '.tags == ["1.2.3", "latest", "1.2", "1"]'
dep expect_success "major,minor: every tag on the same index" tags_are "$R" fd "$D" 1.2.3 latest 1.2 1
dep expect_success "major,minor: the extra tags uploaded no blob" is_zero "blob uploads" "$(registry_blob_uploads fd)"
dep expect_success "major,minor: bytes_uploaded 0" jq_ok mm.json 'all(.repositories[0].images[]; .bytes_uploaded == 0)'

prereq "release --tag edge --tag nightly --branch main" rel_json exp.json --repository "$R/fdexp" --version v1.2.3 --branch main --tag edge --tag nightly
dep expect_success "explicit tags: [1.2.3, edge, nightly], no latest" jq_ok exp.json '.tags == ["1.2.3", "edge", "nightly"]'
dep expect_success "explicit tags: exactly those in the registry, on the same index" tags_are "$R" fdexp "$D" 1.2.3 edge nightly
dep expect_success "explicit tags: no latest in the registry" no_tag "$R" fdexp latest

prereq "release --branch feature/x --auto-tags branch" rel_json br.json --repository "$R/fdbr" --version v1.2.3 --branch feature/x --auto-tags branch
dep expect_success "branch feature/x: tags [1.2.3, feature-x]" jq_ok br.json '.tags == ["1.2.3", "feature-x"]'
dep expect_success "branch feature/x: exactly those in the registry, on the same index" tags_are "$R" fdbr "$D" 1.2.3 feature-x
dep expect_success "branch feature/x: no latest in the registry" no_tag "$R" fdbr latest

prereq "release v2.0.0-rc.1 --auto-tags major,minor --branch main" \
	rel_json rc.json --repository "$R/fdrc" --version v2.0.0-rc.1 --branch main --auto-tags major,minor
dep expect_success "prerelease: no 2.0 or 2 tag in --json" jq_ok rc.json '.version == "2.0.0-rc.1" and (.tags | any(. == "2.0" or . == "2") | not)'
dep expect_success "prerelease: no 2.0 tag in the registry" no_tag "$R" fdrc 2.0
dep expect_success "prerelease: no 2 tag in the registry" no_tag "$R" fdrc 2
dep expect_success "prerelease: tags [2.0.0-rc.1, latest] (latest: no explicit tag, default branch)" \
	tags_are "$R" fdrc "$(jq -r '.repositories[0].digest' rc.json)" 2.0.0-rc.1 latest
dep expect_success "prerelease: the index says version 2.0.0-rc.1" \
	same "$(raw "$R/fdrc:2.0.0-rc.1" | jq -r '.annotations["org.opencontainers.image.version"]')" 2.0.0-rc.1

prereq "release --arch-tags" rel_json arch.json --repository "$R/fdarch" --version v1.2.3 --branch main --arch-tags
dep expect_success "--arch-tags: 1.2.3-amd64 is the amd64 image" same "$(tag_digest "$R" fdarch 1.2.3-amd64)" \
	"$(jq -r '.repositories[0].images[] | select(.architecture == "amd64") | .digest' arch.json)"
dep expect_success "--arch-tags: 1.2.3-arm64 is the arm64 image" same "$(tag_digest "$R" fdarch 1.2.3-arm64)" \
	"$(jq -r '.repositories[0].images[] | select(.architecture == "arm64") | .digest' arch.json)"
dep expect_success "--arch-tags: 1.2.3 and latest are the index" same "$(tag_digest "$R" fdarch 1.2.3) $(tag_digest "$R" fdarch latest)" "$D $D"

# The same rules from the CI environment: VERSION, TAGS, GITHUB_REF_NAME.
prereq "VERSION=v1.2.3 GITHUB_REF_NAME=main" rel_env env1.json VERSION=v1.2.3 GITHUB_REF_NAME=main -- --repository "$R/fdenv1"
dep expect_success "env: tags [1.2.3, latest], on the same index as the flags gave" \
	eval 'jq_ok env1.json ".tags == [\"1.2.3\", \"latest\"]" && tags_are "$R" fdenv1 "$D" 1.2.3 latest'
prereq "VERSION=v1.2.3 TAGS=edge,nightly GITHUB_REF_NAME=main" \
	rel_env env2.json VERSION=v1.2.3 TAGS=edge,nightly GITHUB_REF_NAME=main -- --repository "$R/fdenv2"
dep expect_success "env: tags [1.2.3, edge, nightly] as with --tag, no latest" \
	eval 'jq_ok env2.json ".tags == [\"1.2.3\", \"edge\", \"nightly\"]" && tags_are "$R" fdenv2 "$D" 1.2.3 edge nightly'
prereq "VERSION=v1.2.3 GITHUB_REF_NAME=feature/x --auto-tags branch" \
	rel_env env3.json VERSION=v1.2.3 GITHUB_REF_NAME=feature/x -- --repository "$R/fdenv3" --auto-tags branch
dep expect_success "env: tags [1.2.3, feature-x] as with --branch, no latest" \
	eval 'jq_ok env3.json ".tags == [\"1.2.3\", \"feature-x\"]" && tags_are "$R" fdenv3 "$D" 1.2.3 feature-x'

# --source and --annotation reach the index; outside a git work tree there is no
# revision, and without SOURCE_DATE_EPOCH the created time is now.
t0=$(date +%s)
prereq "release from outside a git work tree, --source, --annotation, no SOURCE_DATE_EPOCH" eval \
	'cd "$SCRATCH" && env -u SOURCE_DATE_EPOCH "$STOWAGE" release fd-amd64.json fd-arm64.json --tls-verify=false --cache-dir "$CACHE" \
		--repository "$R/fdsrc" --version 1.2.3 --branch main --source https://example.com/fd --annotation com.example.k=v'
t1=$(date +%s)
cp "$ERR" src.err
dep expect_success "stderr: stowage: released $R/fdsrc:1.2.3 (index sha256:<the index>; tags 1.2.3, latest)" \
	grep -qE "^stowage: released $R/fdsrc:1\.2\.3 \(index sha256:[0-9a-f]{64}; tags 1\.2\.3, latest\)$" src.err
if [ "$PREREQ_OK" = 1 ]; then raw "$R/fdsrc:1.2.3" >src.json 2>/dev/null; fi
dep expect_success "annotation org.opencontainers.image.source = --source" \
	jq_ok src.json '.annotations["org.opencontainers.image.source"] == "https://example.com/fd"'
dep expect_success "--annotation com.example.k=v is on the index" jq_ok src.json '.annotations["com.example.k"] == "v"'
dep expect_success "no revision annotation outside a git work tree" jq_ok src.json '.annotations | has("org.opencontainers.image.revision") | not'
dep expect_success "without SOURCE_DATE_EPOCH, created is the time of the release" eval \
	'c=$(date -ud "$(jq -r ".annotations[\"org.opencontainers.image.created\"]" src.json)" +%s) && [ "$c" -ge $((t0 - 1)) ] && [ "$c" -le $((t1 + 1)) ]'
prereq "GITHUB_SERVER_URL + GITHUB_REPOSITORY give the source" \
	rel_env ghsrc.json VERSION=1.2.3 GITHUB_SERVER_URL=https://github.example GITHUB_REPOSITORY=o/fd -- --repository "$R/fdgh"
dep expect_success "annotation org.opencontainers.image.source = \$GITHUB_SERVER_URL/\$GITHUB_REPOSITORY" \
	same "$(raw "$R/fdgh:1.2.3" | jq -r '.annotations["org.opencontainers.image.source"]')" https://github.example/o/fd

# --- 3. a single image: a plain manifest, no index ---
prereq "release fd-amd64.json --repository $R/single --version 1.0.0 --branch main --json" eval \
	'"$STOWAGE" release "$SCRATCH/fd-amd64.json" --repository "$R/single" --version 1.0.0 --branch main --tls-verify=false --cache-dir "$CACHE" --json >single.json'
dep expect_success "single: 1.0.0 is a plain OCI manifest" \
	same "$(raw "$R/single:1.0.0" | jq -r .mediaType)" application/vnd.oci.image.manifest.v1+json
dep expect_success "single: tags 1.0.0 and latest, the digest of --json" \
	tags_are "$R" single "$(jq -r '.repositories[0].digest' single.json)" 1.0.0 latest
dep expect_success "single: --json says no index, tags [1.0.0, latest]" \
	jq_ok single.json '.repositories[0].index == false and .tags == ["1.0.0", "latest"]'

# --- 5. several registries in one run ---
if registry_start plain second 2>"$ERR"; then pass "a second registry runs on $REGISTRY"; else fail "a second registry starts" "registry_start plain second failed"; fi
R2=$REGISTRY
registry_use plain
prereq "release --repository $R/multi --repository $R2/multi --auto-tags major,minor" \
	rel_json multi.json --repository "$R/multi" --repository "$R2/multi" --version v1.2.3 --branch main --auto-tags major,minor
dep expect_success "multi: --json has both repositories, each with the same index" \
	jq_ok multi.json '[.repositories[] | [.repository, .digest, .index]] == [[$a, $d, true], [$b, $d, true]]' \
	--arg a "$R/multi" --arg b "$R2/multi" --arg d "$D"
dep expect_success "multi: every tag in the first registry" tags_are "$R" multi "$D" 1.2.3 latest 1.2 1
dep expect_success "multi: every tag in the second registry" tags_are "$R2" multi "$D" 1.2.3 latest 1.2 1
dep expect_success "multi: the second registry's arm64 image is there" \
	eval 'skopeo inspect --tls-verify=false --override-arch arm64 "docker://$R2/multi:1" | jq -e ".Architecture == \"arm64\""'

# --- 6. --dry-run contacts no registry ---
registry_mark
prereq "release --dry-run" rel --repository "$R/dry" --version v1.2.3 --branch main --dry-run
cat "$OUT" "$ERR" >dry.txt
dry_n=$(registry_log_count '[A-Z]+' '.*')
dep expect_success "dry-run: no request reached the registry" is_zero "requests" "$dry_n"
dep expect_success "dry-run: prints PUT $R/dry/manifests/sha256:... (the images by digest)" \
	grep -qE "^PUT [^ ]*$R/(v2/)?dry/manifests/sha256:[0-9a-f]{64}" dry.txt
dep expect_success "dry-run: prints PUT $R/dry/manifests/1.2.3" grep -qE "^PUT [^ ]*$R/(v2/)?dry/manifests/1\.2\.3( |$)" dry.txt
dep expect_success "dry-run: prints PUT $R/dry/manifests/latest" grep -qE "^PUT [^ ]*$R/(v2/)?dry/manifests/latest( |$)" dry.txt
dep expect_success "dry-run: nothing was published" no_tag "$R" dry 1.2.3
expect_success "dry-run: an unreachable repository is fine (nothing is contacted)" \
	rel --repository 127.0.0.1:1/x --version v1.2.3 --branch main --dry-run

# --- 7. errors ---
expect_usage_error "no --version and no VERSION: usage error" version \
	env -u VERSION "$STOWAGE" release "$SCRATCH/fd-amd64.json" --repository "$R/err" --tls-verify=false --cache-dir "$CACHE"
expect_usage_error "no --repository: usage error" repository \
	"$STOWAGE" release "$SCRATCH/fd-amd64.json" --version 1.2.3 --tls-verify=false --cache-dir "$CACHE"
expect_usage_error "--auto-tags with an unknown rule: usage error" auto-tags \
	rel --repository "$R/err" --version 1.2.3 --auto-tags major,bogus
# "one per architecture": two images of one architecture would make an index
# whose second entry no client ever picks.
fails_cleanly "two images of one architecture: one error line" 'amd64|architecture' \
	"$STOWAGE" release "$SCRATCH/fd-amd64.json" "$SCRATCH/fd-amd64.json" --repository "$R/dup" --version 1.2.3 \
	--branch main --tls-verify=false --cache-dir "$CACHE"
expect_success "two images of one architecture: no tag published" no_tag "$R" dup 1.2.3
LIMIT=30 fails_cleanly "an unreachable registry (127.0.0.1:1/x): one error line" '127\.0\.0\.1:1|connect|refused|unreachable' \
	rel --repository 127.0.0.1:1/x --version v1.2.3 --branch main
fails_cleanly "a missing image file: one error line naming it" 'missing\.json' \
	"$STOWAGE" release "$SCRATCH/fd-amd64.json" "$SCRATCH/missing.json" --repository "$R/fd" --version v1.2.3 --branch main \
	--annotation com.example.changed=1 --tls-verify=false --cache-dir "$CACHE"
expect_success "a failed release leaves the primary tag untouched" equals "$R/fd:1.2.3" "$(tag_digest "$R" fd 1.2.3)" "$D"
done_testing
