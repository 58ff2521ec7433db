#!/usr/bin/env bash
# The registry test infrastructure itself (tests/e2e/registry.sh and
# token_issuer.py), checked with skopeo and curl only: so that a failure in
# 60-63 can be told apart from a broken test registry. stowage only writes
# the OCI layout that skopeo pushes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64

expect_success "build: a small image (bash)" "$STOWAGE" build "$F/bash" --arch amd64 --cache-dir "$CACHE" -o small.json
expect_success "stowage copy small.json oci:layout:1" "$STOWAGE" copy small.json oci:layout:1
nblobs=$(($(jq '.layers | length' small.json) + 1))
layout_digest=$(skopeo inspect oci:layout:1 2>/dev/null | jq -r .Digest)

# Four registries at once.
for m in plain basic token; do
	if registry_start "$m" 2>"$ERR"; then pass "registry_start $m: $REGISTRY ($REGISTRY_URL)"; else fail "registry_start $m" "failed"; fi
done
if registry_start plain second 2>"$ERR"; then pass "registry_start plain second: $REGISTRY"; else fail "registry_start plain second" "failed"; fi
ports=$(for n in plain basic token second; do sed -n 's/^REGISTRY=//p' "$SCRATCH/registry-$n/env"; done | sort -u | wc -l)
expect_success "four registries on four ports" equals ports "$ports" 4

for m in plain basic token; do
	registry_use "$m"
	mapfile -t sk < <(registry_skopeo_args)
	dsk=() && for a in "${sk[@]}"; do dsk+=("${a/--/--dest-}"); done
	registry_mark
	expect_success "$m: skopeo copy oci:layout:1 docker://$REGISTRY/x:1" skopeo copy -q "${dsk[@]}" oci:layout:1 "docker://$REGISTRY/x:1"
	expect_success "$m: registry_uploaded_digests x = the $nblobs blobs" \
		equals "uploaded" "$(registry_uploaded_digests x)" "$(jq -r '.layers[].digest, .config_digest' small.json | sort)"
	expect_success "$m: registry_blob_uploads x > 0, registry_manifest_puts x = 1" \
		eval '[ "$(registry_blob_uploads x)" -ge '"$nblobs"' ] && equals "manifest PUTs" "$(registry_manifest_puts x)" 1'
	expect_success "$m: skopeo inspect gives the layout's digest" equals digest "$(skopeo inspect "${sk[@]}" "docker://$REGISTRY/x:1" | jq -r .Digest)" "$layout_digest"
	registry_mark
	expect_success "$m: the same copy again" skopeo copy -q "${dsk[@]}" oci:layout:1 "docker://$REGISTRY/x:1"
	expect_success "$m: ... uploads nothing (registry_log_count PATCH|PUT on uploads = 0)" \
		is_zero uploads "$(registry_log_count 'PATCH|PUT' '/blobs/uploads/')"
	blob=$(jq -r '.layers[0].digest' small.json)
	registry_mark
	mount_code() { registry_curl "/v2/y/blobs/uploads/?mount=$blob&from=x" -X POST -o /dev/null -w '%{http_code}'; }
	expect_success "$m: a mount POST from x to y answers 201" equals status "$(mount_code)" 201
	expect_success "$m: registry_mounts y = 1" equals mounts "$(registry_mounts y)" 1
	expect_success "$m: registry_mount_requests y = '$blob x 201'" equals mount "$(registry_mount_requests y)" "$blob x 201"
	expect_success "$m: registry_blob_files has the $nblobs blobs and the manifest" \
		equals "blob files" "$(registry_blob_files | wc -l)" $((nblobs + 1))
done

# basic: TLS and Basic auth
registry_use basic
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
expect_success "basic: curl without the CA fails to verify" eval '! curl -s -o /dev/null --max-time 5 "$REGISTRY_URL/v2/"'
expect_success "basic: anonymous GET /v2/ is 401" equals status "$(code --cacert "$REGISTRY_CA_DIR/ca.crt" "$REGISTRY_URL/v2/")" 401
expect_success "basic: a wrong password is 401" equals status "$(code --cacert "$REGISTRY_CA_DIR/ca.crt" -u alice:nope "$REGISTRY_URL/v2/")" 401
expect_success "basic: alice:s3cret-pw is 200" equals status "$(code --cacert "$REGISTRY_CA_DIR/ca.crt" -u "$REGISTRY_USER:$REGISTRY_PASS" "$REGISTRY_URL/v2/")" 200
expect_success "basic: skopeo without --cert-dir fails" eval '! skopeo inspect --creds "$REGISTRY_USER:$REGISTRY_PASS" "docker://$REGISTRY/x:1" >/dev/null 2>&1'

# token: the flow by hand
registry_use token
expect_success "token: anonymous GET /v2/x/manifests/1 is 401 with a Bearer challenge naming the realm and scope" \
	eval 'curl -si "$REGISTRY_URL/v2/x/manifests/1" | grep -qiF "www-authenticate: Bearer realm=\"$TOKEN_REALM\",service=\"stowage-e2e-registry\",scope=\"repository:x:pull\""'
tok() { curl -sf --max-time 5 "$@" "$TOKEN_REALM?service=stowage-e2e-registry&scope=repository:x:pull,push" | jq -re .token; }
manifest_code() {
	code -H "Authorization: Bearer $1" -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$REGISTRY_URL/v2/x/manifests/1"
}
expect_success "token: alice's token opens x:1 (200)" equals status "$(manifest_code "$(tok -u "$REGISTRY_USER:$REGISTRY_PASS")")" 200
expect_success "token: the response has token, access_token, expires_in, issued_at" \
	eval 'curl -sf -u "$REGISTRY_USER:$REGISTRY_PASS" "$TOKEN_REALM?service=stowage-e2e-registry&scope=repository:x:pull" | jq -e "(.token == .access_token) and (.expires_in > 0) and (.issued_at | test(\"^20\"))" >/dev/null'
jwt_header() { # jwt_header TOKEN: its header, decoded (base64url without padding)
	local h
	h=$(cut -d. -f1 <<<"$1" | tr '_-' '/+')
	while ((${#h} % 4)); do h+='='; done
	base64 -d <<<"$h"
}
expect_success "token: the JWT header carries x5c, alg RS256" \
	eval 'jwt_header "$(tok -u "$REGISTRY_USER:$REGISTRY_PASS")" | jq -e ".alg == \"RS256\" and (.x5c | length) == 1" >/dev/null'
expect_success "token: an anonymous token grants nothing (401)" equals status "$(manifest_code "$(tok)")" 401
expect_success "token: a wrong password gets 401 from the issuer" \
	equals status "$(code -u alice:nope "$TOKEN_REALM?service=stowage-e2e-registry&scope=repository:x:pull")" 401
expect_success "token: the issuer's OAuth2 POST (grant_type=password) works too" \
	eval 'curl -sf --max-time 5 -d grant_type=password -d username="$REGISTRY_USER" -d password="$REGISTRY_PASS" -d service=stowage-e2e-registry -d client_id=e2e --data-urlencode "scope=repository:x:pull" "$TOKEN_REALM" | jq -e .access_token >/dev/null'
expect_success "token: the issuer logged scopes and users" \
	eval 'jq -se "any(.[]; .user == \"alice\" and .auth == \"ok\" and (.scopes | index(\"repository:x:pull,push\")))" "$TOKEN_LOG" >/dev/null'
expect_success "token: the issuer's log has no password" eval '! grep -F -e "$REGISTRY_PASS" -e nope "$TOKEN_LOG"'

# restart: same port, same content
registry_use plain
before=$REGISTRY
expect_success "registry_restart (plain)" registry_restart
registry_restart >/dev/null 2>&1   # (the check above ran in a child shell)
expect_success "after the restart: same address, x:1 still there" \
	eval 'equals address "$REGISTRY" "$before" && skopeo inspect --tls-verify=false "docker://$REGISTRY/x:1" >/dev/null'
registry_stop
expect_success "registry_stop: nothing answers any more" eval '! curl -s -o /dev/null --max-time 2 "$REGISTRY_URL/v2/"'

done_testing
