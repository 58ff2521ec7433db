#!/usr/bin/env bash
# Registry delivery over TLS (a throwaway CA, --cert-dir) with htpasswd Basic
# auth, and every way of giving credentials docs/registry-cli.md lists:
# --creds, --authfile, REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json,
# ~/.docker/config.json (auths, credHelpers, credsStore), GITHUB_ACTOR +
# GITHUB_TOKEN, and their order. Wrong passwords and an untrusted certificate
# fail in one clear line, publish nothing, and never echo a credential.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64

if registry_start basic 2>"$ERR"; then pass "a TLS + Basic auth registry runs on $REGISTRY"; else fail "a TLS + Basic auth registry starts" "registry_start basic failed"; done_testing; fi
R=$REGISTRY CA=$REGISTRY_CA_DIR PW=$REGISTRY_PASS
WRONG=wr0ng-Pa55-$RUN_ID

# st [VAR=VALUE...] ARGS...: stowage with no ambient credentials: an empty HOME,
# no DOCKER_CONFIG / REGISTRY_AUTH_FILE / GITHUB_*, plus the VARs given (set by
# the shell, so no value shows in any argv).
mkdir -p home-empty
st() {
	(
		unset DOCKER_CONFIG DOCKER_AUTH_CONFIG REGISTRY_AUTH_FILE GITHUB_ACTOR GITHUB_TOKEN
		export HOME=$SCRATCH/home-empty
		while [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do export "${1?}"; shift; done
		exec "$STOWAGE" "$@"
	)
}
# push_tls [VAR=VALUE...] TAG ARGS...: pushes fd.json to $R/fd:TAG with --cert-dir
push_tls() {
	local envs=()
	while [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do envs+=("$1"); shift; done
	local tag=$1; shift
	st "${envs[@]}" push fd.json "$R/fd:$tag" --cert-dir "$CA" --cache-dir "$CACHE" --digestfile "$tag.digest" "$@"
}
sk() { skopeo inspect --cert-dir="$CA" --creds="$REGISTRY_USER:$PW" "$@"; }
# published TAG: skopeo finds fd:TAG, with the digest the push wrote
published() { equals "fd:$1" "$(sk "docker://$R/fd:$1" | jq -r .Digest)" "$(dig "$1.digest")"; }
not_published() { # not_published REPO:TAG
	if sk "docker://$R/$1" >/dev/null 2>&1; then echo "$1 exists" >&2; return 1; fi
	is_zero "manifest PUTs answered 201" "$(registry_requests PUT '/manifests/' | awk '$3 == 201' | wc -l)"
}
keep() { cp "$OUT" "$1.out"; cp "$ERR" "$1.err"; }   # keep NAME: the last command's output, for later checks
no_secret() { # no_secret NAME...: neither password (right or wrong) in NAME.out / NAME.err
	local n
	for n in "$@"; do
		if grep -lF -e "$PW" -e "$WRONG" -e "$(printf %s "$REGISTRY_USER:$PW" | base64)" "$n.out" "$n.err"; then
			echo "a credential is printed in $n's output" >&2; return 1
		fi
	done
}
b64() { printf %s "$1" | base64 -w0; }
auths_json() { # auths_json USER:PASS: a config.json with auths for the registry
	jq -n --arg h "$R" --arg a "$(b64 "$1")" '{auths: {($h): {auth: $a}}}'
}

# --- images and the registry itself ---
expect_success "build: base layer" "$STOWAGE" layer "$F/bash" "$F/coreutils" --cache-dir "$CACHE" -o base.json
expect_success "build: fd" "$STOWAGE" build --layer base.json --root "$F/fd-root" --arch amd64 --entrypoint /bin/fd \
	--env PATH=/bin --name fd --tag 1.0 --cache-dir "$CACHE" -o fd.json
expect_success "infra: stowage copy fd.json oci:layout:1.0" "$STOWAGE" copy fd.json oci:layout:1.0
expect_success "infra: skopeo copy --dest-cert-dir --dest-creds to docker://$R/infra:1" \
	skopeo copy -q --dest-cert-dir="$CA" --dest-creds="$REGISTRY_USER:$PW" oci:layout:1.0 "docker://$R/infra:1"
expect_success "infra: the registry refuses anonymous requests (401)" \
	equals "GET /v2/ status" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA/ca.crt" "$REGISTRY_URL/v2/")" 401

# --- --creds + --cert-dir ---
registry_mark
prereq "push --cert-dir --creds (TLS verified against the test CA)" push_tls creds --creds "$REGISTRY_USER:$PW" --json
keep creds
dep expect_success "--creds: skopeo sees fd:creds with the --digestfile digest" published creds
dep expect_success "--creds: every layer uploaded" jq_ok creds.out '[.layers[].action] | unique == ["uploaded"]'
dep expect_success "--creds: the password is not in stdout/stderr" no_secret creds

# --- --authfile, REGISTRY_AUTH_FILE ---
auths_json "$REGISTRY_USER:$PW" >authfile.json
prereq "push --authfile FILE (auths with base64 auth)" push_tls authfile --authfile authfile.json
keep authfile
dep expect_success "--authfile: published" published authfile
prereq "push with REGISTRY_AUTH_FILE=FILE" push_tls "REGISTRY_AUTH_FILE=$SCRATCH/authfile.json" env-authfile
dep expect_success "REGISTRY_AUTH_FILE: published" published env-authfile

# --- $DOCKER_CONFIG/config.json and ~/.docker/config.json ---
mkdir -p dockercfg home/.docker
auths_json "$REGISTRY_USER:$PW" >dockercfg/config.json
auths_json "$REGISTRY_USER:$PW" >home/.docker/config.json
prereq "push with DOCKER_CONFIG=DIR (DIR/config.json auths)" push_tls "DOCKER_CONFIG=$SCRATCH/dockercfg" docker-config
dep expect_success "DOCKER_CONFIG: published" published docker-config
prereq "push with HOME=DIR (DIR/.docker/config.json auths)" push_tls "HOME=$SCRATCH/home" home
dep expect_success "~/.docker/config.json: published" published home

# --- credential helpers: docker-credential-testhelper on PATH ---
mkdir -p bin && printf '%s' "$PW" >helper-secret
cat >bin/docker-credential-testhelper <<EOF
#!/bin/sh
# A fake docker credential helper: records its argv, its stdin, and the argv of
# its ancestors and siblings (stowage and whatever stowage runs), then answers.
log=$SCRATCH/helper.log
printf 'argv:%s\n' "\$*" >>"\$log"
input=\$(cat)
printf 'stdin:%s\n' "\$input" >>"\$log"
pid=\$\$ i=0
while [ "\$i" -lt 6 ] && [ "\$pid" -gt 1 ]; do
	tr '\0' ' ' </proc/\$pid/cmdline >>$SCRATCH/helper-ps.log 2>/dev/null; echo >>$SCRATCH/helper-ps.log
	pid=\$(awk '/^PPid:/ { print \$2 }' /proc/\$pid/status) i=\$((i + 1))
done
for c in /proc/\$PPID/task/*/children; do
	for k in \$(cat "\$c" 2>/dev/null); do tr '\0' ' ' </proc/\$k/cmdline >>$SCRATCH/helper-ps.log 2>/dev/null; echo >>$SCRATCH/helper-ps.log; done
done
[ "\$1" = get ] || exit 1
case \$input in
$R | https://$R | https://$R/ | http://$R | http://$R/)
	printf '{"ServerURL":"%s","Username":"$REGISTRY_USER","Secret":"%s"}\n' "\$input" "\$(cat $SCRATCH/helper-secret)" ;;
*) echo "credentials not found in native keychain"; exit 1 ;;
esac
EOF
chmod +x bin/docker-credential-testhelper
HPATH=$SCRATCH/bin:$PATH
mkdir -p helpercfg storecfg
jq -n --arg h "$R" '{credHelpers: {($h): "testhelper"}}' >helpercfg/config.json
: >helper.log
prereq "push with credHelpers[host] = testhelper" push_tls "PATH=$HPATH" "DOCKER_CONFIG=$SCRATCH/helpercfg" cred-helper
keep cred-helper
dep expect_success "credHelpers: published" published cred-helper
dep expect_success "the helper was run as 'docker-credential-testhelper get'" grep -qx 'argv:get' helper.log
dep expect_success "the helper got the server ($R) on stdin" grep -qE "^stdin:(https?://)?$R/?\$" helper.log
secret_not_in_argv() {
	[ -s helper-ps.log ] || { echo "helper-ps.log is empty" >&2; return 1; }
	! grep -F -- "$PW" helper-ps.log || { echo "the secret is in an argv above" >&2; return 1; }
}
dep expect_success "the secret is in no argv of stowage, its children or the helper" secret_not_in_argv
dep expect_success "credHelpers: the password is not in stdout/stderr" no_secret cred-helper
jq -n '{credsStore: "testhelper"}' >storecfg/config.json
: >helper.log
prereq "push with credsStore = testhelper" push_tls "PATH=$HPATH" "DOCKER_CONFIG=$SCRATCH/storecfg" creds-store
dep expect_success "credsStore: published" published creds-store
dep expect_success "credsStore: the helper was asked for $R" grep -qE "^stdin:(https?://)?$R/?\$" helper.log

# --- the order: --creds > --authfile > docker config (credHelpers > credsStore > auths) > GITHUB_* ---
mkdir -p wrongcfg wrongcfg-home/.docker helper-over-auths store-over-auths
auths_json "$REGISTRY_USER:$WRONG" >wrongcfg/config.json
cp wrongcfg/config.json wrongcfg-home/.docker/config.json
auths_json "$REGISTRY_USER:$WRONG" >wrong-authfile.json
jq -n --arg h "$R" --arg a "$(b64 "$REGISTRY_USER:$WRONG")" '{auths: {($h): {auth: $a}}, credHelpers: {($h): "testhelper"}}' >helper-over-auths/config.json
jq -n --arg h "$R" --arg a "$(b64 "$REGISTRY_USER:$WRONG")" '{auths: {($h): {auth: $a}}, credsStore: "testhelper"}' >store-over-auths/config.json
expect_success "order: --creds wins over a wrong --authfile" push_tls order-creds --creds "$REGISTRY_USER:$PW" --authfile wrong-authfile.json
expect_success "order: --authfile wins over a wrong DOCKER_CONFIG" push_tls "DOCKER_CONFIG=$SCRATCH/wrongcfg" order-authfile --authfile authfile.json
expect_success "order: REGISTRY_AUTH_FILE wins over a wrong DOCKER_CONFIG" \
	push_tls "DOCKER_CONFIG=$SCRATCH/wrongcfg" "REGISTRY_AUTH_FILE=$SCRATCH/authfile.json" order-env-authfile
expect_success "order: DOCKER_CONFIG wins over a wrong ~/.docker/config.json" \
	push_tls "HOME=$SCRATCH/wrongcfg-home" "DOCKER_CONFIG=$SCRATCH/dockercfg" order-docker-config
expect_success "order: credHelpers[host] wins over wrong auths[host]" \
	push_tls "PATH=$HPATH" "DOCKER_CONFIG=$SCRATCH/helper-over-auths" order-helper
expect_success "order: credsStore wins over wrong auths[host]" \
	push_tls "PATH=$HPATH" "DOCKER_CONFIG=$SCRATCH/store-over-auths" order-store
expect_success "order: a docker config wins over wrong GITHUB_ACTOR/GITHUB_TOKEN" \
	push_tls "DOCKER_CONFIG=$SCRATCH/dockercfg" GITHUB_ACTOR=nobody "GITHUB_TOKEN=$WRONG" order-github

# --- GITHUB_ACTOR + GITHUB_TOKEN (no docker config at all) ---
prereq "push with GITHUB_ACTOR + GITHUB_TOKEN and no docker config" \
	push_tls "GITHUB_ACTOR=$REGISTRY_USER" "GITHUB_TOKEN=$PW" github
keep github
dep expect_success "GITHUB_TOKEN: published" published github
dep expect_success "GITHUB_TOKEN: the token is not in stdout/stderr" no_secret github

# --- failures: wrong password, no credentials, untrusted certificate ---
registry_mark
fails_cleanly "wrong password (--creds): one line 'stowage: ...', non-zero exit" '401|unauthori[sz]ed|denied|authenticat|credential|password' \
	st push fd.json "$R/fd-wrong:1" --cert-dir "$CA" --cache-dir "$CACHE" --creds "$REGISTRY_USER:$WRONG"
keep wrong
expect_success "wrong password: the error names the registry $R" grep -qF "$R" wrong.err
expect_success "wrong password: neither password in stdout/stderr" no_secret wrong
expect_success "wrong password: nothing published (no fd-wrong:1, no manifest PUT)" not_published fd-wrong:1
registry_mark
fails_cleanly "wrong password (--authfile): one clean line" '401|unauthori[sz]ed|denied|authenticat|credential|password' \
	st push fd.json "$R/fd-wrong:2" --cert-dir "$CA" --cache-dir "$CACHE" --authfile wrong-authfile.json
keep wrong-authfile
expect_success "wrong password (--authfile): neither password in stdout/stderr" no_secret wrong-authfile
expect_success "wrong password (--authfile): nothing published" not_published fd-wrong:2
registry_mark
fails_cleanly "no credentials at all: one clean line" '401|unauthori[sz]ed|denied|authenticat|credential|password' \
	st push fd.json "$R/fd-anon:1" --cert-dir "$CA" --cache-dir "$CACHE"
expect_success "no credentials: nothing published" not_published fd-anon:1
registry_mark
fails_cleanly "TLS without --cert-dir: a certificate verification error, one line" 'certificate|verif|x509|tls|ssl|issuer' \
	st push fd.json "$R/fd-nocert:1" --cache-dir "$CACHE" --creds "$REGISTRY_USER:$PW"
keep nocert
expect_success "TLS without --cert-dir: the error names the registry $R" grep -qF "$R" nocert.err
expect_success "TLS without --cert-dir: the password is not in stdout/stderr" no_secret nocert
expect_success "TLS without --cert-dir: nothing published" not_published fd-nocert:1
expect_success "TLS with --tls-verify=false and no --cert-dir: the push works" \
	st push fd.json "$R/fd:no-verify" --tls-verify=false --cache-dir "$CACHE" --creds "$REGISTRY_USER:$PW"
fails_cleanly "a --cert-dir without the CA: the same verification error" 'certificate|verif|x509|tls|ssl|issuer' \
	st push fd.json "$R/fd-nocert:2" --cert-dir home-empty --cache-dir "$CACHE" --creds "$REGISTRY_USER:$PW"

# --- tag and inspect with credentials over TLS ---
registry_mark
prereq "stowage tag --cert-dir --authfile $R/fd:creds extra" st tag "$R/fd:creds" extra --cert-dir "$CA" --authfile authfile.json
dep expect_success "tag: no blob request" is_zero "requests on /blobs/" "$(registry_log_count '[A-Z]+' '/blobs/')"
dep expect_success "tag: fd:extra has fd:creds's digest" equals "fd:extra" "$(sk "docker://$R/fd:extra" 2>/dev/null | jq -r .Digest)" "$(dig creds.digest)"
prereq "stowage inspect docker://$R/fd:creds --json, with a docker config" \
	eval 'st DOCKER_CONFIG="$SCRATCH/dockercfg" inspect "docker://$R/fd:creds" --cert-dir "$CA" --json >inspect.json'
dep expect_success "inspect --json: the manifest digest" jq_ok inspect.json '.manifest_digest == $d' --arg d "$(dig creds.digest)"
fails_cleanly "inspect with a wrong password: one clean line" '401|unauthori[sz]ed|denied|authenticat|credential|password' \
	st inspect "docker://$R/fd:creds" --cert-dir "$CA" --creds "$REGISTRY_USER:$WRONG"

done_testing
