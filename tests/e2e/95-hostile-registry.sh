#!/usr/bin/env bash
# A hostile or broken registry, played by tests/e2e/fault_proxy.py in front
# of a real docker-registry: invalid JSON, huge bodies (stowage's memory
# stays bounded: its response caps), content that does not match its digest
# on pull (inspect, tag, index), malformed WWW-Authenticate challenges, and
# redirects / upload Locations to another origin (a second proxy on another
# loopback port records the requests: no credentials ever reach it). Every
# failure is one "stowage:" line that never holds the password, and no
# manifest is published from content that did not verify.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
. "$(dirname "$0")/fault_proxy.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64
PASS_TEXT=$REGISTRY_PASS

expect_success "build: fd image (amd64)" "$STOWAGE" build --root "$F/fd-root" --arch amd64 --entrypoint /bin/fd \
	--name fd --tag 1.0 --cache-dir "$CACHE" -o fd.json
if registry_start plain 2>"$ERR"; then pass "a plain registry runs on $REGISTRY"; else fail "registry_start plain" "failed"; done_testing; fi
R=$REGISTRY
expect_success "push fd.json to $R/hostile:1 (directly)" "$STOWAGE" push fd.json "$R/hostile:1" --cache-dir "$CACHE" \
	--digestfile fd.digest
FD_DIGEST=$(dig fd.digest)
CONFIG=$(jq -r .config_digest fd.json)
OCI=application/vnd.oci.image.manifest.v1+json
st() { "$STOWAGE" "$@"; }
no_manifest_put() { # no_manifest_put: no manifest PUT reached the registry since the mark
	is_zero "manifest PUTs at the registry" "$(registry_manifest_puts)"
}

# --- invalid JSON, huge bodies ---
fproxy_start badjson "$R" "[{\"method\": \"GET\", \"path\": \"/manifests/\", \"fault\": \"answer\", \"status\": 200,
	\"headers\": {\"Content-Type\": \"$OCI\"}, \"body\": \"{\\\"schemaVersion\\\": 2, \\\"config\\\": \"}]" || fail "proxy" "failed"
fails_cleanly "invalid JSON manifest: inspect fails with one line" 'not JSON' st inspect "docker://$P/hostile:1"

# 256 MiB answers: stowage caps a manifest at 8 MiB and an error body at 1 MiB, so its peak RSS stays far below
huge() { # huge NAME RULE-EXTRA: inspect through a proxy answering 256 MiB, peak RSS checked
	local name=$1 extra=$2 rss st=0
	fproxy_start "$name" "$R" "[{\"method\": \"GET\", \"path\": \"/manifests/\", \"fault\": \"answer\", $extra,
		\"headers\": {\"Content-Type\": \"$OCI\"}, \"body\": \"$(head -c 1024 /dev/zero | tr '\0' ' ')\", \"repeat\": 262144}]" ||
		{ fail "proxy $name" "failed"; return; }
	rss=$(max_rss_kb "$STOWAGE" inspect "docker://$P/hostile:1") || st=$?
	echo "# note: $name: exit $st, peak RSS ${rss} KiB, stderr: $(head -c 200 "$ERR")"
	if [ "$st" -eq 0 ] || [ "$st" -gt 125 ]; then fail "$name: inspect fails (exit $st)" "want an error"
	elif ! one_error_line "$ERR" 'large|big|exceed|limit|size|MiB|bytes|not JSON|cannot' 2>"$SCRATCH/.why"; then fail "$name: one error line" "$(cat "$SCRATCH/.why")"
	else pass "$name: inspect fails with one line"
	fi
	expect_success "$name: peak RSS ${rss:-?} KiB < 160 MiB (the answer was 256 MiB)" test "${rss:-999999999}" -lt 163840
}
huge huge-manifest '"status": 200'
huge huge-manifest-unframed '"status": 200, "no_length": true'
huge huge-error-body '"status": 404'

# --- content that does not match its digest ---
fproxy_start corrupt-manifest "$R" '[{"method": "GET", "path": "/manifests/", "nth": [1,2,3,4,5,6,7,8,9,10], "fault": "corrupt_answer"}]'
fails_cleanly "manifest altered in transit (by tag; Docker-Content-Digest differs): inspect refuses it" 'does not match' \
	st inspect "docker://$P/hostile:1"
fails_cleanly "manifest altered in transit (by digest): inspect refuses it" 'does not match' \
	st inspect "docker://$P/hostile@$FD_DIGEST"
registry_mark
fails_cleanly "manifest altered in transit: tag refuses to re-publish it" 'does not match' st tag "$P/hostile:1" evil
expect_success "manifest altered: no manifest PUT reached the registry" no_manifest_put
fails_cleanly "child manifest altered in transit: index refuses it" 'does not match' \
	st index --tag "$P/hostile:idx" "$P/hostile@$FD_DIGEST"
expect_success "child manifest altered: no index PUT reached the registry" no_manifest_put
fproxy_start corrupt-config "$R" '[{"method": "GET", "path": "/blobs/sha256:", "nth": [1,2,3,4,5,6,7,8,9,10], "fault": "corrupt_answer"}]'
fails_cleanly "config blob altered in transit: inspect refuses it" 'does not match' st inspect "docker://$P/hostile:1"
registry_mark
fails_cleanly "config blob altered in transit: index refuses it" 'does not match' \
	st index --tag "$P/hostile:idx" "$P/hostile@$FD_DIGEST"
expect_success "config altered: no index PUT reached the registry" no_manifest_put
expect_success "infra: the proxy did alter a config blob answer" \
	fplog_true "corrupted" 'any(.[]; (.fault // "" | test("corrupt")) and .status == 200)'
fproxy_start truncated-manifest "$R" '[{"method": "GET", "path": "/manifests/", "nth": [1,2,3,4,5,6,7,8,9,10], "fault": "truncate_answer", "bytes": 100}]'
fails_cleanly "manifest answer truncated (FIN after 100 bytes), every time: inspect fails with one line" 'hostile' \
	st inspect "docker://$P/hostile:1"
fproxy_start truncated-once "$R" '[{"method": "GET", "path": "/manifests/", "nth": 1, "fault": "truncate_answer", "bytes": 100}]'
expect_success "manifest answer truncated once: inspect retries and succeeds" st inspect "docker://$P/hostile:1" --json
echo "# note: after one truncated answer: $(fplog 'map("\(.method) \(.status) \(.fault // "-")") | join(", ")' -r | head -c 400)"

# --- malformed WWW-Authenticate: one clean line, no password, no hang ---
n=0
for challenge in 'Bearer realm="http://127.0.0.1:1/token' 'Bearer service="x",scope="y"' 'Bearer realm=""' \
	'Bearer realm="ftp://127.0.0.1/token"' 'Bearer realm="file:///etc/passwd"' 'Bearer realm=http://[::1' \
	'Newauth realm="x"' 'Basic' ',,,' "Bearer realm=\"$(head -c 20000 /dev/zero | tr '\0' a)\"" ''; do
	n=$((n + 1))
	hdr=$(jq -nc --arg c "$challenge" 'if $c == "" then {} else {"WWW-Authenticate": $c} end')
	fproxy_start "auth$n" "$R" "[{\"method\": \"GET|HEAD|POST|PUT\", \"path\": \"^/v2/\", \"nth\": $(jq -nc '[range(1; 50)]'),
		\"fault\": \"answer\", \"status\": 401, \"headers\": $hdr, \"body\": \"{}\"}]" || fail "proxy auth$n" "failed"
	fails_cleanly "WWW-Authenticate '${challenge:0:40}': push fails with one line" 'auth|challenge|realm|token|401|cannot' \
		st push fd.json "$P/hostile:auth" --creds "alice:$PASS_TEXT" --cache-dir "$CACHE"
	expect_failure "WWW-Authenticate '${challenge:0:40}': the password is not in the error" grep -F -- "$PASS_TEXT" "$ERR"
done

# --- redirects and Locations to another origin: credentials stay home ---
registry_start token tok 2>"$ERR" || fail "registry_start token" "failed"
T=$REGISTRY
CREDS=alice:$PASS_TEXT
expect_success "push fd.json to the token registry $T/hostile:1 (--creds)" st push fd.json "$T/hostile:1" --creds "$CREDS" --cache-dir "$CACHE"
# B: a recording proxy on another loopback port, in front of the plain registry (which has the same blobs)
fproxy_start capture "$R" '[]' && B=$P BLOG=$PLOG
fproxy_start redirect "$T" "[{\"method\": \"GET\", \"path\": \"/blobs/sha256:\", \"nth\": $(jq -nc '[range(1; 20)]'),
	\"fault\": \"redirect\", \"to\": \"http://$B\", \"status\": 307}]"
A=$P ALOG=$PLOG
prereq "inspect through A (token auth) whose config GET redirects to B (another port): succeeds" \
	eval 'st inspect "docker://$A/hostile:1" --creds "$CREDS" --json >redirected.json'
dep expect_success "redirect: the config came through B" jq_ok redirected.json '.config.architecture == "amd64"'
dep expect_success "redirect: A saw Bearer credentials (so there were some to leak)" \
	fplog_true "A had auth" 'any(.[]; .authorization == "Bearer")'
PLOG=$BLOG
dep expect_success "redirect: B was asked for the config, with no Authorization header" \
	fplog_true "B saw no credentials" '(length > 0) and all(.[]; .authorization == null)'
registry_use tok
fproxy_start capture2 "$R" '[]' && B=$P BLOG=$PLOG
fproxy_start elsewhere "$T" "[{\"method\": \"POST\", \"path\": \"/blobs/uploads/$\", \"nth\": 1,
	\"fault\": \"answer\", \"status\": 202, \"headers\": {\"Location\": \"http://$B/v2/elsewhere/blobs/uploads/made-up?_state=x\",
	\"Range\": \"0-0\", \"Docker-Upload-UUID\": \"made-up\"}, \"body\": \"\"}]"
registry_mark
"$STOWAGE" push fd.json "$P/elsewhere:1" --creds "$CREDS" --cache-dir "$CACHE" >"$OUT" 2>elsewhere.err
st=$?
echo "# note: push whose first upload Location names another origin: exit $st, stderr: $(head -c 300 elsewhere.err)"
expect_success "upload Location on another origin: the push succeeds (a new session) or fails with one line (exit $st)" \
	eval '[ "$st" -eq 0 ] || { [ "$st" -le 125 ] && one_error_line elsewhere.err .; }'
cp elsewhere.err "$ERR"
PLOG=$BLOG
expect_success "upload Location on another origin: B was sent the upload, with no Authorization header" \
	fplog_true "B saw no credentials" '(length > 0) and all(.[]; .authorization == null)'
expect_failure "upload Location on another origin: the password is not in stderr" grep -F -- "$PASS_TEXT" "$ERR"

done_testing
