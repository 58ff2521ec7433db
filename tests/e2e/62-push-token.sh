#!/usr/bin/env bash
# Registry delivery with token auth (distribution `auth: token`, realm =
# tests/e2e/token_issuer.py): stowage fetches bearer tokens with the scopes it
# needs (repository:REPO:push,pull; pull on the source repository of a mount),
# pushes, mounts, tags and inspects; wrong or missing credentials fail in one
# clear line and publish nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64

if registry_start token 2>"$ERR"; then pass "a token-auth registry runs on $REGISTRY (issuer: $TOKEN_REALM)"; else fail "a token-auth registry starts" "registry_start token failed"; done_testing; fi
R=$REGISTRY PW=$REGISTRY_PASS CREDS=$REGISTRY_USER:$REGISTRY_PASS
WRONG=wr0ng-Pa55-$RUN_ID
mkdir -p home-empty

# st ARGS...: stowage with no ambient credentials
st() {
	env -u DOCKER_CONFIG -u DOCKER_AUTH_CONFIG -u REGISTRY_AUTH_FILE -u GITHUB_ACTOR -u GITHUB_TOKEN \
		HOME="$SCRATCH/home-empty" "$STOWAGE" "$@"
}
push() { st push "$@" --cache-dir "$CACHE"; }
sk() { skopeo inspect --tls-verify=false --creds="$CREDS" "$@"; }
token_mark() { TOKEN_MARK=$(wc -l <"$TOKEN_LOG"); }
token_mark
token_requests() { tail -n "+$((TOKEN_MARK + 1))" "$TOKEN_LOG"; }   # the issuer's log since token_mark
# saw_scope REPO ACTION...: one token request since token_mark, by alice with
# good credentials, asked for (and got) every ACTION on repository REPO
saw_scope() {
	local repo=$1; shift
	token_requests | jq -se --arg r "$repo" --args '$ARGS.positional as $want |
		any(.[] | select(.auth == "ok");
			[.scopes[] | select(startswith("repository:" + $r + ":")) | ltrimstr("repository:" + $r + ":") | split(",")[]] as $got |
			all($want[]; IN($got[])))' "$@" >/dev/null && return 0
	echo "no token request for repository:$repo:$(IFS=,; echo "$*"); requests: $(token_requests | jq -c '[.auth, .scopes]' | tr '\n' ' ' | head -c 800)" >&2
	return 1
}
not_published() { # not_published REPO:TAG
	if sk "docker://$R/$1" >/dev/null 2>&1; then echo "$1 exists" >&2; return 1; fi
	is_zero "manifest PUTs answered 201" "$(registry_requests PUT '/manifests/' | awk '$3 == 201' | wc -l)"
}
keep() { cp "$OUT" "$1.out"; cp "$ERR" "$1.err"; }
no_secret() {
	local n
	for n in "$@"; do
		if grep -lF -e "$PW" -e "$WRONG" "$n.out" "$n.err"; then echo "a credential is printed in $n's output" >&2; return 1; fi
	done
}

# --- images and the registry itself ---
expect_success "build: base layer" "$STOWAGE" layer "$F/bash" "$F/coreutils" --cache-dir "$CACHE" -o base.json
for t in fd rg; do
	expect_success "build: $t" "$STOWAGE" build --layer base.json --root "$F/$t-root" --arch amd64 --entrypoint "/bin/$t" \
		--env PATH=/bin --name "$t" --tag 1.0 --cache-dir "$CACHE" -o "$t.json"
done
expect_success "infra: stowage copy fd.json oci:layout:1.0" "$STOWAGE" copy fd.json oci:layout:1.0
expect_success "infra: skopeo copy --dest-creds to docker://$R/infra:1 (401 -> token -> 201)" \
	skopeo copy -q --dest-tls-verify=false --dest-creds="$CREDS" oci:layout:1.0 "docker://$R/infra:1"
expect_success "infra: the registry answers anonymous requests with a Bearer challenge" \
	eval 'curl -si "$REGISTRY_URL/v2/" | grep -qi "^www-authenticate: Bearer realm=\"$TOKEN_REALM\""'

# --- push with --creds ---
token_mark
registry_mark
prereq "push fd.json $R/fd:1.0 --creds (token auth)" push fd.json "$R/fd:1.0" --creds "$CREDS" --json --digestfile fd.digest
keep push-fd
dep expect_success "skopeo sees fd:1.0 with the --digestfile digest" equals "fd:1.0" "$(sk "docker://$R/fd:1.0" 2>/dev/null | jq -r .Digest)" "$(dig fd.digest)"
dep expect_success "the issuer saw scope repository:fd:push,pull (alice, good credentials)" saw_scope fd push pull
dep expect_success "no token request failed during the push" \
	is_zero "token requests with bad credentials" "$(token_requests | jq -s '[.[] | select(.auth == "bad")] | length')"
dep expect_success "the password is not in stdout/stderr" no_secret push-fd

# --- a second repository: mount from fd, with pull on fd in the token ---
token_mark
registry_mark
prereq "push rg.json $R/rg:1.0 --creds (shares layers with fd)" push rg.json "$R/rg:1.0" --creds "$CREDS" --json
keep push-rg
dep expect_success "rg: the shared layers are 'mounted' from fd" \
	jq_ok push-rg.out '[.layers[] | select(.action == "mounted") | .mounted_from] | length >= 1 and all(. == "fd")'
dep expect_success "registry log: mount POSTs from=fd answered 201" \
	eval '[ "$(registry_mount_requests rg | awk "\$2 == \"fd\" && \$3 == 201" | wc -l)" -ge 1 ]'
dep expect_success "the issuer saw scope repository:rg:push,pull" saw_scope rg push pull
dep expect_success "the issuer saw scope repository:fd:pull (the mount's source)" saw_scope fd pull
dep expect_success "skopeo copy docker://$R/rg:1.0 oci:pulled:rg (the mounted blobs are readable)" \
	skopeo copy -q --src-tls-verify=false --src-creds="$CREDS" "docker://$R/rg:1.0" oci:pulled:rg

# --- a re-push only reads: HEADs with a token ---
registry_mark
prereq "re-push fd.json $R/fd:1.0 --creds" push fd.json "$R/fd:1.0" --creds "$CREDS" --json
keep repush
dep expect_success "re-push: bytes_uploaded == 0, every layer 'skipped'" \
	jq_ok repush.out '.bytes_uploaded == 0 and ([.layers[].action] | unique == ["skipped"])'
dep expect_success "re-push: no PATCH or PUT to blobs/uploads" is_zero "PATCH/PUT on uploads" "$(registry_log_count 'PATCH|PUT' '/blobs/uploads/')"

# --- tag and inspect ---
registry_mark
prereq "stowage tag $R/fd:1.0 latest --creds" st tag "$R/fd:1.0" latest --creds "$CREDS"
dep expect_success "tag: no blob request" is_zero "requests on /blobs/" "$(registry_log_count '[A-Z]+' '/blobs/')"
dep expect_success "tag: fd:latest has fd:1.0's digest" equals "fd:latest" "$(sk "docker://$R/fd:latest" 2>/dev/null | jq -r .Digest)" "$(dig fd.digest)"
prereq "stowage inspect docker://$R/fd:1.0 --creds --json" eval 'st inspect "docker://$R/fd:1.0" --creds "$CREDS" --json >inspect.json'
dep expect_success "inspect --json: the manifest digest" jq_ok inspect.json '.manifest_digest == $d' --arg d "$(dig fd.digest)"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R" "$(printf %s "$CREDS" | base64 -w0)" >authfile.json
expect_success "push with --authfile (token auth)" push fd.json "$R/fd:authfile" --authfile authfile.json

# --- failures ---
token_mark
registry_mark
fails_cleanly "wrong password: one line 'stowage: ...', non-zero exit" '401|unauthori[sz]ed|denied|authenticat|credential|password|token' \
	push fd.json "$R/fd-wrong:1" --creds "$REGISTRY_USER:$WRONG"
keep wrong
expect_success "wrong password: the issuer refused it (a request logged with auth 'bad')" \
	eval '[ "$(token_requests | jq -s "[.[] | select(.auth == \"bad\")] | length")" -ge 1 ]'
expect_success "wrong password: neither password in stdout/stderr" no_secret wrong
expect_success "wrong password: nothing published" not_published fd-wrong:1
registry_mark
fails_cleanly "no credentials (an anonymous token grants nothing): one clean line" '401|unauthori[sz]ed|denied|authenticat|credential|password|token|scope' \
	push fd.json "$R/fd-anon:1"
expect_success "no credentials: nothing published" not_published fd-anon:1
fails_cleanly "inspect with a wrong password: one clean line" '401|unauthori[sz]ed|denied|authenticat|credential|password|token' \
	st inspect "docker://$R/fd:1.0" --creds "$REGISTRY_USER:$WRONG"

done_testing
