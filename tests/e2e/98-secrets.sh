#!/usr/bin/env bash
# Secrets stay secret. Against a token registry (Bearer JWTs from the local
# issuer): the password and the tokens never appear on stdout, stderr or
# --json output, successful or failed (wrong password, malformed config
# or helper answers that contain the secret); no file stowage writes holds
# them, and its cache directory is private (0700, files not writable by
# others); a credential helper gets only "get" on its command line and the
# server on stdin; while a push runs (stalled by fault_proxy.py), no
# process on the machine has the password in its /proc/*/cmdline or
# /proc/*/environ; a helper that hangs is stopped after its timeout, and
# what a failing helper prints on stderr is not shown.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
. "$(dirname "$0")/fault_proxy.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64
PW=$REGISTRY_PASS
printf '%s\n' "$PW" >pw.pattern   # grep -f: the pattern never on a command line

expect_success "build: a small image" "$STOWAGE" build --root "$F/fd-root" --arch amd64 --name fd --tag 1 --cache-dir "$CACHE" -o fd.json
registry_start token 2>"$ERR" || { fail "registry_start token" "failed"; done_testing; }
R=$REGISTRY
auth=$(printf 'alice:%s' "$PW" | base64 -w0)
printf '{"auths": {"%s": {"auth": "%s"}}}' "$R" "$auth" >auth.json
chmod 600 auth.json
no_secret() { # no_secret FILE...: neither the password nor a JWT in these files
	local f
	for f in "$@"; do
		[ -e "$f" ] || continue
		if grep -q -F -f pw.pattern "$f"; then echo "$f holds the password" >&2; return 1; fi
		if grep -q -E 'eyJ[A-Za-z0-9_-]{10,}\.' "$f"; then echo "$f holds a JWT" >&2; return 1; fi
	done
}

# --- outputs ---
prereq "push with --authfile (--json)" eval '"$STOWAGE" push fd.json "$R/sec:1" --authfile auth.json --json --cache-dir "$SCRATCH/c1" \
	--digestfile digest >push.json 2>push.err'
dep expect_success "push: no secret on stdout, stderr, --json or the digest file" no_secret push.json push.err digest
expect_success "push with --creds, progress on: no secret on stdout or stderr" \
	eval '"$STOWAGE" push fd.json "$R/sec:2" --creds "alice:$PW" --cache-dir "$SCRATCH/c1" >p2.out 2>p2.err && no_secret p2.out p2.err'
expect_success "inspect and tag docker:// with --creds: no secret in their output" \
	eval '"$STOWAGE" inspect "docker://$R/sec:1" --creds "alice:$PW" --json >i.out 2>i.err && "$STOWAGE" tag "$R/sec:1" t2 --creds "alice:$PW" >t.out 2>t.err && no_secret i.out i.err t.out t.err'
fails_cleanly "a wrong password: one line" 'auth|credential|denied|401|refused' \
	"$STOWAGE" push fd.json "$R/sec:3" --creds "alice:not-$PW-at-all" --cache-dir "$SCRATCH/c1"
expect_failure "a wrong password: not in the error" grep -q -F -- "not-$PW-at-all" "$ERR"
printf '{"auths": {"%s": {"auth": "%s", }}' "$R" "$auth" >broken.json
fails_cleanly "an auth file that is not JSON, next to a secret: one line" 'broken.json' \
	"$STOWAGE" push fd.json "$R/sec:4" --authfile broken.json --cache-dir "$SCRATCH/c1"
expect_success "an auth file that is not JSON: the error quotes no secret" no_secret "$ERR"
expect_failure "an auth file that is not JSON: the error quotes no base64 auth" grep -q -F -- "$auth" "$ERR"

# --- files stowage writes ---
expect_success "no file under the cache directory holds a secret" eval 'no_secret $(find "$SCRATCH/c1" -type f)'
private() { # the cache directory is 0700 and nothing in it is group/other-writable
	local d=$SCRATCH/c1 loose
	[ "$(stat -c %a "$d")" = 700 ] || { echo "$d is $(stat -c %a "$d")" >&2; return 1; }
	loose=$(find "$d" -perm /022 -printf '%m %p\n')
	[ -z "$loose" ] || { echo "writable by others: $loose" >&2; return 1; }
}
expect_success "the cache directory stowage made is private (0700), nothing in it writable by others" private
echo "# note: files in the cache directory: $(cd "$SCRATCH/c1" && find . -type f -printf '%m %p, ' | head -c 400)"

# --- credential helpers ---
mkdir -p bin
cat >bin/docker-credential-fake <<HELPER
#!/bin/sh
printf '%s\n' "\$*" >"$SCRATCH/helper.argv"
cat >"$SCRATCH/helper.stdin"
printf '{"Username": "alice", "Secret": "%s"}' "\$(cat "$SCRATCH/pw.pattern")"
HELPER
cat >bin/docker-credential-hang <<'HELPER'
#!/bin/sh
exec sleep 600
HELPER
cat >bin/docker-credential-loud <<'HELPER'
#!/bin/sh
cat "$PW_FILE" >&2
exit 1
HELPER
cat >bin/docker-credential-garbled <<'HELPER'
#!/bin/sh
printf 'not json, but the secret: %s' "$(cat "$PW_FILE")"
HELPER
chmod +x bin/*
export PW_FILE=$SCRATCH/pw.pattern
fproxy_start stall "$R" '[{"method": "PATCH", "path": "/blobs/uploads/", "nth": 1, "fault": "stall", "seconds": 3}]'
helper_config() { printf '{"credHelpers": {"%s": "%s", "%s": "%s"}}' "$R" "$1" "$P" "$1" >"helper-$1.json"; }
for h in fake hang loud garbled; do helper_config "$h"; done
# scan_proc PID: while PID lives, every process's /proc/N/cmdline, and the environ of PID and its
# descendants, checked for the password (hits into proc.hits; the test's own shells export it)
descendants() { local c; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do echo "$c"; descendants "$c"; done; }
scan_proc() {
	local pid=$1 f scans=0
	# shellcheck disable=SC2094
	: >proc.hits
	while kill -0 "$pid" 2>/dev/null; do
		grep -l -a -F -f pw.pattern /proc/[0-9]*/cmdline >>proc.hits 2>/dev/null
		for f in $pid $(descendants "$pid"); do
			grep -l -a -F -f pw.pattern "/proc/$f/environ" >>proc.hits 2>/dev/null
		done
		scans=$((scans + 1))
		sleep 0.1
	done
	echo "$scans" >proc.scans
}
env -i HOME="$HOME" PATH="$SCRATCH/bin:$PATH" "$STOWAGE" push fd.json "$P/sec:helper" --authfile helper-fake.json \
	--cache-dir "$SCRATCH/c2" >helper.out 2>helper.err &
pid=$!
scan_proc "$pid"
wait "$pid"
st=$?
echo "# note: /proc scanned $(cat proc.scans) times during the helper push"
expect_success "push with a credential helper (stalled 3 s mid-push by the proxy): exit 0" test "$st" -eq 0
expect_success "the helper's command line was only 'get'" same "$(cat helper.argv)" get
expect_success "the helper got the server on stdin" same "$(cat helper.stdin)" "$P"
expect_success "while the push ran, no process had the password in /proc/*/cmdline or environ ($(sort -u proc.hits | paste -sd ' '))" \
	test ! -s proc.hits
expect_success "helper push: no secret on stdout or stderr" no_secret helper.out helper.err
LIMIT=60 fails_cleanly "a credential helper that hangs: stopped after STOWAGE_CREDENTIAL_HELPER_TIMEOUT=2, one line" \
	'did not answer within 2 s' env PATH="$SCRATCH/bin:$PATH" STOWAGE_CREDENTIAL_HELPER_TIMEOUT=2 \
	"$STOWAGE" push fd.json "$R/sec:hang" --authfile helper-hang.json
fails_cleanly "a credential helper that prints the secret on stderr and fails: one line" 'credential helper' \
	env PATH="$SCRATCH/bin:$PATH" "$STOWAGE" push fd.json "$R/sec:loud" --authfile helper-loud.json
expect_success "a failing helper's stderr (the secret) is not shown" no_secret "$ERR"
fails_cleanly "a credential helper whose answer is not JSON (and holds the secret): one line" 'credential helper' \
	env PATH="$SCRATCH/bin:$PATH" "$STOWAGE" push fd.json "$R/sec:garbled" --authfile helper-garbled.json
expect_success "a garbled helper answer is not quoted" no_secret "$ERR"

done_testing
