#!/usr/bin/env bash
# Push faults beyond 65-push-faults.sh, through tests/e2e/fault_proxy.py in
# front of a real docker-registry: 502 on a blob HEAD, the upload POST, the
# finishing PUT and the manifest PUT (retried: the image arrives whole);
# 502 on every manifest PUT (one error line, no tag); the answer to the
# manifest PUT lost (the registry stored it; the retry is idempotent); the
# answer to a finishing blob PUT lost (the registry committed the blob); a
# bearer token that expires in the middle of a push (token registry whose
# tokens live 10 s while claiming 300); and the registry killed in the
# middle of a push, then restarted: the push failed with one line and
# published nothing, and the rerun uploads only the blobs that are missing.
# Every finished push is checked by skopeo at the registry itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
. "$(dirname "$0")/fault_proxy.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64

expect_success "build: base layer (bash + coreutils)" "$STOWAGE" layer "$F/bash" "$F/coreutils" --cache-dir "$CACHE" -o base.json
expect_success "build: fd" "$STOWAGE" build --layer base.json --root "$F/fd-root" --arch amd64 --entrypoint /bin/fd \
	--env PATH=/bin --name fd --tag 1.0 --cache-dir "$CACHE" -o fd.json
if registry_start plain 2>"$ERR"; then pass "a plain registry runs on $REGISTRY"; else fail "registry_start plain" "failed"; done_testing; fi
R=$REGISTRY
ALL_BLOBS=$(jq -r '[.layers[].digest, .config_digest] | sort | .[]' fd.json)

push_via() { # push_via OUT REPO:TAG [ARGS...]: push fd.json through the proxy $P, --json into OUT
	local out=$1 ref=$2; shift 2
	"$STOWAGE" push fd.json "$P/$ref" --json --cache-dir "$SCRATCH/nocache-$ref" "$@" >"$out"
}
pushed_whole() { # pushed_whole REPO:TAG PUSH-JSON [SKOPEO ARGS]: skopeo at the registry sees fd.json's layers, the pushed digest
	local ref=$1 json=$2; shift 2
	skopeo inspect --tls-verify=false "$@" "docker://$REGISTRY/$ref" >sk.json &&
		equals layers "$(jq -c .Layers sk.json)" "$(jq -c '[.layers[].digest]' fd.json)" &&
		equals digest "$(jq -r .Digest sk.json)" "$(jq -r .manifest_digest "$json")"
}
tag_absent() { if skopeo inspect --tls-verify=false "$@" >/dev/null 2>&1; then echo "$* exists" >&2; return 1; fi; }

# --- 502 on each kind of request once: retried ---
fproxy_start bad-gateway "$R" '[
	{"method": "HEAD", "path": "/blobs/", "nth": 1, "fault": "status", "status": 502},
	{"method": "POST", "path": "/blobs/uploads/$", "nth": 2, "fault": "status", "status": 502},
	{"method": "PUT", "path": "/blobs/uploads/", "nth": 1, "fault": "status", "status": 502},
	{"method": "PUT", "path": "/manifests/", "nth": 1, "fault": "status", "status": 502}]'
registry_mark
prereq "502 on a HEAD, an upload POST, a finishing PUT and the manifest PUT: the push succeeds" push_via gw.json faults-502:1
dep expect_success "502: skopeo sees the whole image" pushed_whole faults-502:1 gw.json
dep expect_success "502: the proxy answered four 502s" fplog_true "502s" '[.[] | select(.status == 502)] | length == 4'

fproxy_start gateway-dead "$R" "[{\"method\": \"PUT\", \"path\": \"/manifests/\", \"nth\": $(jq -nc '[range(1; 30)]'), \"fault\": \"status\", \"status\": 502}]"
registry_mark
fails_cleanly "502 on every manifest PUT: the push fails with one line" '502|manifest' push_via dead.json faults-502-dead:1
expect_success "502 on every manifest PUT: no manifest reached the registry" is_zero "manifest PUTs" "$(registry_manifest_puts)"
expect_success "502 on every manifest PUT: the tag does not exist" tag_absent "docker://$R/faults-502-dead:1"

# --- answers lost after the registry acted ---
fproxy_start lost-manifest-answer "$R" '[{"method": "PUT", "path": "/manifests/", "nth": 1, "fault": "reset_after_bytes", "bytes": 100000000}]'
registry_mark
prereq "the manifest PUT's answer lost (the registry stored it): the push succeeds" push_via lostm.json faults-lostm:1
dep expect_success "lost manifest answer: skopeo sees the whole image" pushed_whole faults-lostm:1 lostm.json
dep expect_success "lost manifest answer: the registry saw the manifest PUT twice (stored, then again)" \
	equals "manifest PUTs" "$(registry_manifest_puts faults-lostm)" 2
fproxy_start lost-blob-answer "$R" '[{"method": "PUT", "path": "/blobs/uploads/", "nth": 1, "fault": "reset_after_bytes", "bytes": 100000000}]'
registry_mark
push_via lostb.json faults-lostb:1 2>lostb.err
st=$?
echo "# note: a finishing blob PUT's answer lost: exit $st; $(head -c 300 lostb.err); requests after it: $(fplog '(map(select(.fault != null)) | .[0].t) as $t | [.[] | select(.t > $t) | "\(.method) \(.target | sub("\\?.*"; "") | sub("^/v2/[^/]+/"; "") | .[0:20]) \(.status)"] | .[0:6] | join(", ")' -r)"
expect_success "a finishing blob PUT's answer lost (the registry committed it): the push succeeds (exit $st)" test "$st" -eq 0
expect_success "lost blob answer: the retried PUT got 404, a HEAD found the blob" \
	fplog_true "404 then HEAD 200" '(map(select(.fault != null)) | .[0].t) as $t | [.[] | select(.t > $t)] |
		any(.[]; .method == "PUT" and .status == 404) and any(.[]; .method == "HEAD" and .status == 200)'
expect_success "lost blob answer: skopeo sees the whole image" pushed_whole faults-lostb:1 lostb.json

# --- a token that expires in the middle of a push ---
# The issuer says tokens last 300 s (so stowage caches them) but signs them
# with exp = now - 50: distribution accepts a token up to 60 s past its exp,
# so each is honoured for about 10 s. A 12 s stall on the first PATCH and on
# the manifest PUT make both arrive with an expired token.
TOKEN_EXPIRES_IN=-50 registry_start token tok 2>"$ERR" || fail "registry_start token" "failed"
T=$REGISTRY CREDS=alice:$REGISTRY_PASS
fproxy_start expiring "$T" '[{"method": "PATCH", "path": "/blobs/uploads/", "nth": 1, "fault": "stall", "seconds": 12},
	{"method": "PUT", "path": "/manifests/", "nth": 1, "fault": "stall", "seconds": 12}]'
registry_mark
prereq "token expiring mid-push (PATCH and manifest PUT sent after it expired): the push succeeds" \
	push_via exp.json faults-exp:1 --creds "$CREDS" --jobs 1
dep expect_success "expired token: skopeo sees the whole image" pushed_whole faults-exp:1 exp.json --creds "$CREDS"
dep expect_success "expired token: the registry did answer 401 after the stall (the token had expired)" \
	fplog_true "401 after stall" 'any(.[]; (.fault // "" | test("stall")) and .status == 401)'
echo "# note: tokens issued during the push: $(wc -l <"$TOKEN_LOG"); 401s: $(fplog '[.[] | select(.status == 401)] | length')"

# --- the registry killed mid-push, restarted, the push run again ---
registry_start plain kill 2>"$ERR" || fail "registry_start plain kill" "failed"
R=$REGISTRY
fproxy_start killed "$R" '[{"method": "PATCH", "path": "/blobs/uploads/", "nth": 3, "fault": "stall", "seconds": 6}]'
registry_mark
blobs_before=$(registry_blob_files)
"$STOWAGE" push fd.json "$P/faults-kill:1" --jobs 1 --cache-dir "$SCRATCH/kill-cache" >kill1.out 2>kill1.err &
push_pid=$!
committed() { # waits (bounded, 30 s) until N new blobs are in the storage
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(comm -13 <(echo "$blobs_before") <(registry_blob_files) | grep -c .)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
if committed 2; then pass "infra: two blobs committed before the stalled third PATCH"; else fail "infra: blobs committed" "none"; fi
registry_stop
wait "$push_pid"
st=$?
cp kill1.err "$ERR"
expect_success "registry killed mid-push: the push failed (exit $st) with one line" one_error_line kill1.err 'reach|upload|connect|layer|fail'
at_kill=$(comm -13 <(echo "$blobs_before") <(registry_blob_files))
echo "# note: blobs committed before the kill: $(echo "$at_kill" | grep -c .) of $(echo "$ALL_BLOBS" | grep -c .); error: $(head -c 200 kill1.err)"
expect_success "registry killed mid-push: restarted on the same port and storage" registry_restart
registry_mark
expect_success "registry killed mid-push: nothing was published (no tag)" tag_absent "docker://$R/faults-kill:1"
prereq "the push run again (directly): succeeds" eval '"$STOWAGE" push fd.json "$R/faults-kill:1" --json --cache-dir "$SCRATCH/kill-cache" >kill2.json'
dep expect_success "rerun: skopeo sees the whole image" pushed_whole faults-kill:1 kill2.json
rerun=$(registry_uploaded_digests faults-kill)
dep expect_success "rerun: uploaded exactly the blobs missing after the kill" \
	equals "uploaded on rerun" "$(echo "$rerun" | tr '\n' ' ')" "$(comm -23 <(echo "$ALL_BLOBS") <(echo "$at_kill" | sort) | tr '\n' ' ')"
echo "# note: rerun uploaded $(echo "$rerun" | grep -c .) blobs, skipped $(jq '[.layers[], .config] | map(select(.action == "skipped" or .action == "exists")) | length' kill2.json 2>/dev/null)"

done_testing
