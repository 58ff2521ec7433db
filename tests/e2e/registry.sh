# tests/e2e/registry.sh: local OCI registries for the end-to-end push tests.
# Source it after lib.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/registry.sh"
#   registry_start plain || exit 1     # or basic, token
#
# registry_start MODE [NAME] starts CNCF distribution (`docker-registry`) on a
# free port of 127.0.0.1, with its storage, config and log under
# $SCRATCH/registry-NAME (NAME defaults to MODE), waits (bounded) until it
# answers GET /v2/, and makes sure it is killed when the script exits. Modes:
#
#   plain   HTTP, no auth.
#   basic   HTTPS with a server certificate from a throwaway CA (made with
#           openssl in $SCRATCH/registry-ca) + htpasswd (bcrypt) Basic auth.
#   token   HTTP + `auth: token`: the realm is tests/e2e/token_issuer.py on
#           another port of 127.0.0.1, which signs RS256 JWTs with a key whose
#           self-signed certificate is the registry's `rootcertbundle` (the
#           JWT header carries it as `x5c`); their lifetime is
#           $TOKEN_EXPIRES_IN seconds (default 300).
#
# The user for basic and token is REGISTRY_USER=alice, REGISTRY_PASS=s3cret-pw.
# It sets (and exports, lib.sh has `set -a`), for the registry started last:
#   REGISTRY         127.0.0.1:PORT
#   REGISTRY_URL     http(s)://127.0.0.1:PORT
#   REGISTRY_MODE    plain | basic | token
#   REGISTRY_DIR     its directory (config.yml, storage/, registry.log)
#   REGISTRY_LOG     its log: an access-log line per request, e.g.
#                    127.0.0.1 - - [date] "PUT /v2/fd/blobs/uploads/...?digest=sha256:... HTTP/1.1" 201 0 "" "ua"
#   REGISTRY_CA_DIR  a directory holding only ca.crt (stowage/skopeo --cert-dir)
#   TOKEN_LOG        (token mode) the issuer's log: one JSON object per token request
#   REGISTRY_MARK    0: log helpers only count the lines after this one (registry_mark)
# Several registries may run in one script; save these variables before the
# next registry_start (or call registry_use NAME to switch back).
#
# Other registry functions:
#   registry_use NAME                   makes registry NAME the current one again
#   registry_restart / registry_stop    the current registry, on the same port and storage
#   registry_curl PATH [CURL ARGS...]   curl to the current registry as alice (its CA; Basic, or a
#                                       bearer token for the repository in PATH, + pull on from=)
#   registry_token SCOPE...             (token mode) a token for alice from the issuer
#   registry_skopeo_args                skopeo options for the current registry, one per line
# Log helpers (each first sends a marker request and waits for its log line,
# so every request answered before is counted):
#   registry_mark                       later counts only see requests from now on
#   registry_requests [METHOD [REGEX]]  'METHOD URI STATUS' per request since the mark (METHOD, REGEX: ERE)
#   registry_log_count METHOD REGEX     how many of those there are
#   registry_blob_uploads REPO          POST (not mounts), PATCH, PUT on /v2/REPO/blobs/uploads/
#   registry_uploaded_digests [REPO]    digests of finished uploads (PUT ...&digest=, 201), sorted
#   registry_mounts [REPO]              POSTs with mount=
#   registry_mount_requests [REPO]      'DIGEST FROM STATUS' per mount POST (201 mounted, 202 declined)
#   registry_manifest_puts [REPO]       manifest PUTs
#   registry_blob_files                 digest of every blob in the storage (manifests included)
# Check helpers for the 6x/7x scripts: prereq/dep (checks that only mean
# something after an earlier one passed), jq_ok, equals, is_zero, dig,
# one_error_line, fails_cleanly (see their comments at the end).
REGISTRY_USER=alice
REGISTRY_PASS=s3cret-pw
REGISTRY_MARK=0
REGISTRY_LIFETIME=${REGISTRY_LIFETIME:-900}   # a registry left behind dies by itself after this
_REGISTRY_PY=/usr/bin/python3                   # Debian's python3, with python3-jwt (not a pyenv one)
_REGISTRY_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_registry_seq=0

_registry_die() { echo "registry: $*" >&2; return 1; }

# A free TCP port on 127.0.0.1 (the kernel picks it; it is free right after).
_registry_free_port() {
	"$_REGISTRY_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The throwaway CA, once per script: $SCRATCH/registry-ca/{ca.key,ca.crt}, and
# REGISTRY_CA_DIR=$SCRATCH/registry-ca/trust holding only ca.crt.
_registry_ca() {
	local d=$SCRATCH/registry-ca
	[ -s "$d/trust/ca.crt" ] && return 0
	mkdir -p "$d/trust" || return
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=stowage e2e test CA $RUN_ID" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		-keyout "$d/ca.key" -out "$d/ca.crt" >"$d/openssl.log" 2>&1 ||
		{ cat "$d/openssl.log" >&2; _registry_die "cannot make the test CA"; return; }
	cp "$d/ca.crt" "$d/trust/ca.crt"
}

# _registry_server_cert DIR: DIR/server.{key,crt} for 127.0.0.1 and localhost, signed by the CA.
_registry_server_cert() {
	local d=$1 ca=$SCRATCH/registry-ca
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr" >"$d/openssl.log" 2>&1 &&
		printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'extendedKeyUsage=serverAuth' \
			'keyUsage=critical,digitalSignature' 'basicConstraints=CA:FALSE' >"$d/server.ext" &&
		openssl x509 -req -in "$d/server.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial \
			-days 2 -extfile "$d/server.ext" -out "$d/server.crt" >>"$d/openssl.log" 2>&1 ||
		{ cat "$d/openssl.log" >&2; _registry_die "cannot make the server certificate"; }
}

# _registry_token_signer DIR: DIR/token-signer.{key,crt}, an RSA key and its self-signed certificate.
_registry_token_signer() {
	local d=$1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=stowage e2e token signer $RUN_ID" \
		-keyout "$d/token-signer.key" -out "$d/token-signer.crt" >"$d/openssl.log" 2>&1 ||
		{ cat "$d/openssl.log" >&2; _registry_die "cannot make the token signing key"; }
}

# _registry_wait_port FILE: waits (bounded, 10 s) until FILE holds a port number.
_registry_wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -s "$1" ] && grep -qx '[0-9]\+' "$1" && return 0
		sleep 0.1
	done
	return 1
}

# _registry_up: waits (bounded, 15 s) until the current registry answers GET /v2/ (200 or 401).
_registry_up() {
	local i code pid
	pid=$(cat "$REGISTRY_DIR/pid")
	for ((i = 0; i < 150; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$REGISTRY_CA_DIR/ca.crt" \
			"$REGISTRY_URL/v2/?stowage-e2e-up=1") || code=000
		case $code in 200 | 401) return 0 ;; esac
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$REGISTRY_LOG" >&2
	_registry_die "the $REGISTRY_MODE registry on $REGISTRY did not answer GET /v2/ (last status $code)"
}

# _registry_launch: starts docker-registry with $REGISTRY_DIR/config.yml (appending to its log).
_registry_launch() {
	# A clean environment: distribution reads REGISTRY_* variables as configuration overrides.
	env -i PATH="$PATH" timeout -k 5 "$REGISTRY_LIFETIME" docker-registry serve "$REGISTRY_DIR/config.yml" \
		>>"$REGISTRY_LOG" 2>&1 </dev/null &
	echo $! >"$REGISTRY_DIR/pid"
	at_exit "_registry_kill $REGISTRY_DIR/pid"
	_registry_up
}

# _registry_kill PIDFILE: ends the process (a `timeout` wrapper, which passes
# the signal on) and waits for it, bounded.
_registry_kill() {
	local pid i
	pid=$(cat "$1" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# _registry_token_issuer DIR: starts token_issuer.py; sets TOKEN_REALM, TOKEN_LOG.
_registry_token_issuer() {
	local d=$1
	printf '%s' "$REGISTRY_PASS" >"$d/token-password"
	rm -f "$d/token-port"
	timeout -k 5 "$REGISTRY_LIFETIME" "$_REGISTRY_PY" "$_REGISTRY_TOP/token_issuer.py" \
		--port-file "$d/token-port" --key "$d/token-signer.key" --cert "$d/token-signer.crt" \
		--issuer stowage-e2e-issuer --service stowage-e2e-registry \
		--user "$REGISTRY_USER" --password-file "$d/token-password" --log "$d/token.log" \
		--expires-in "${TOKEN_EXPIRES_IN:-300}" \
		>"$d/token-issuer.out" 2>&1 </dev/null &
	echo $! >"$d/token-pid"
	at_exit "_registry_kill $d/token-pid"
	_registry_wait_port "$d/token-port" ||
		{ cat "$d/token-issuer.out" >&2; _registry_die "the token issuer did not start"; return; }
	TOKEN_REALM=http://127.0.0.1:$(cat "$d/token-port")/token
	TOKEN_LOG=$d/token.log
	touch "$TOKEN_LOG"
}

# registry_start MODE [NAME]
registry_start() {
	local mode=$1 name=${2:-$1} d port scheme=http attempt
	case $mode in plain | basic | token) ;; *) _registry_die "unknown mode '$mode' (plain, basic, token)"; return ;; esac
	command -v docker-registry >/dev/null || { _registry_die "docker-registry is not installed"; return; }
	d=$SCRATCH/registry-$name
	[ -e "$d" ] && { _registry_die "registry '$name' already started"; return; }
	mkdir -p "$d/storage" || return
	_registry_ca || return
	REGISTRY_CA_DIR=$SCRATCH/registry-ca/trust
	_registry_seq=$((_registry_seq + 1))
	{
		echo "version: 0.1"
		echo "log:"
		echo "  level: info"
		echo "  formatter: text"
		echo "  fields: {service: registry, name: $name}"
		echo "storage:"
		echo "  filesystem: {rootdirectory: $d/storage}"
		echo "  delete: {enabled: true}"
		echo "  maintenance: {uploadpurging: {enabled: false}}"
		echo "http:"
		echo "  addr: 127.0.0.1:@PORT@"
		echo "  secret: stowage-e2e-$RUN_ID-$_registry_seq"
		echo "  headers: {X-Content-Type-Options: [nosniff]}"
	} >"$d/config.in"
	case $mode in
	basic)
		scheme=https
		_registry_server_cert "$d" || return
		printf '%s\n' "$REGISTRY_PASS" | htpasswd -iBc "$d/htpasswd" "$REGISTRY_USER" >/dev/null 2>&1 ||
			{ _registry_die "htpasswd failed"; return; }
		{
			echo "  tls: {certificate: $d/server.crt, key: $d/server.key}"
			echo "auth:"
			echo "  htpasswd: {realm: stowage-e2e-basic, path: $d/htpasswd}"
		} >>"$d/config.in"
		;;
	token)
		_registry_token_signer "$d" && _registry_token_issuer "$d" || return
		{
			echo "auth:"
			echo "  token:"
			echo "    realm: $TOKEN_REALM"
			echo "    service: stowage-e2e-registry"
			echo "    issuer: stowage-e2e-issuer"
			echo "    rootcertbundle: $d/token-signer.crt"
		} >>"$d/config.in"
		;;
	*) TOKEN_LOG= TOKEN_REALM= ;;
	esac
	# The port is free when the kernel hands it out; should another process take
	# it before the registry binds it, try another one (3 attempts).
	for attempt in 1 2 3; do
		port=$(_registry_free_port) || return
		sed "s/@PORT@/$port/" "$d/config.in" >"$d/config.yml"
		REGISTRY=127.0.0.1:$port REGISTRY_URL=$scheme://127.0.0.1:$port REGISTRY_MODE=$mode
		REGISTRY_DIR=$d REGISTRY_LOG=$d/registry.log REGISTRY_MARK=0
		: >"$REGISTRY_LOG"
		if _registry_launch 2>"$d/start.err"; then
			declare -p REGISTRY REGISTRY_URL REGISTRY_MODE REGISTRY_DIR REGISTRY_LOG REGISTRY_CA_DIR TOKEN_LOG TOKEN_REALM \
				2>/dev/null | sed 's/^declare -[a-z-]* //' >"$d/env"
			return 0
		fi
		_registry_kill "$d/pid"
		grep -q 'address already in use' "$REGISTRY_LOG" || break
	done
	cat "$d/start.err" >&2
	return 1
}

# registry_use NAME: makes the registry started as NAME the current one again.
registry_use() {
	local f=$SCRATCH/registry-$1/env line
	[ -s "$f" ] || { _registry_die "no registry '$1'"; return; }
	while IFS= read -r line; do eval "$line"; done <"$f"
	REGISTRY_MARK=0
}

# registry_restart: the current registry, stopped and started again (same port, storage, log).
registry_restart() {
	_registry_kill "$REGISTRY_DIR/pid"
	_registry_launch
}

# registry_stop: the current registry, stopped (e.g. to test a connection failure).
registry_stop() { _registry_kill "$REGISTRY_DIR/pid"; }

# registry_sync: makes sure every request that was answered is in the log: a
# marker request is sent, and its line awaited (bounded, 5 s). The registry
# writes a request's access-log line when the handler returns, so an answered
# request's line is there by the time a later marker's is.
registry_sync() {
	local tag i
	_registry_seq=$((_registry_seq + 1))
	tag="stowage-e2e-sync=$$-$_registry_seq-$RANDOM"
	curl -s -o /dev/null --max-time 3 --cacert "$REGISTRY_CA_DIR/ca.crt" "$REGISTRY_URL/v2/?$tag" || true
	for ((i = 0; i < 50; i++)); do
		grep -qF -- "$tag" "$REGISTRY_LOG" && return 0
		sleep 0.1
	done
	_registry_die "the registry log did not show the sync request"
}

# registry_mark: log helpers only count requests made after this point.
registry_mark() {
	registry_sync
	REGISTRY_MARK=$(wc -l <"$REGISTRY_LOG")
}

# registry_requests [METHOD [REGEX]]: 'METHOD URI STATUS' per request since the mark
# (access-log lines only; the helpers' own GET /v2/ probes are left out).
registry_requests() {
	local method=${1:-[A-Z]+} re=${2:-.*}
	registry_sync >&2 || return
	tail -n "+$((REGISTRY_MARK + 1))" "$REGISTRY_LOG" |
		sed -nE 's/^[^"]* - [^"]*\[[^]]*\] "([A-Z]+) ([^ "]*) HTTP\/[0-9.]+" ([0-9]{3}) .*/\1 \2 \3/p' |
		grep -v 'stowage-e2e-\(sync\|up\)=' | grep -E -- "^($method) " |
		RE=$re awk '{ if ($2 ~ ENVIRON["RE"]) print }'
}

# registry_log_count METHOD REGEX: how many METHOD requests since the mark have a URI matching REGEX.
registry_log_count() { registry_requests "$1" "$2" | wc -l; }

# registry_blob_uploads REPO: POST (not mounts), PATCH and PUT on /v2/REPO/blobs/uploads/ since the mark.
registry_blob_uploads() {
	registry_requests 'POST|PATCH|PUT' "^/v2/$1/blobs/uploads/" | { grep -cv 'mount=' || true; }
}

# registry_mounts [REPO]: POSTs with mount= (to REPO, default any) since the mark.
registry_mounts() { registry_log_count POST "^/v2/${1:-.+}/blobs/uploads/\\?(.*&)?mount="; }

# registry_manifest_puts [REPO]: manifest PUTs (to REPO, default any) since the mark.
registry_manifest_puts() { registry_log_count PUT "^/v2/${1:-.+}/manifests/"; }

# registry_uploaded_digests [REPO]: the digest of each blob upload finished (PUT ...digest=, 201)
# since the mark, one per line, sorted.
registry_uploaded_digests() {
	registry_requests PUT "^/v2/${1:-.+}/blobs/uploads/" | awk '$3 == 201 { print $2 }' |
		sed -nE 's/.*[?&]digest=([a-z0-9]+)(%3[aA]|:)([0-9a-f]+).*/\1:\3/p' | sort
}

# registry_mount_requests [REPO]: 'DIGEST FROM STATUS' for each mount POST (to REPO) since the mark;
# status 201 = mounted, 202 = the registry declined and opened an upload instead.
registry_mount_requests() {
	registry_requests POST "^/v2/${1:-.+}/blobs/uploads/\\?(.*&)?mount=" | while read -r _ uri status; do
		local q=${uri#*\?} d='' f='' kv
		for kv in ${q//&/ }; do
			case $kv in mount=*) d=${kv#mount=} ;; from=*) f=${kv#from=} ;; esac
		done
		d=${d//%3A/:} d=${d//%3a/:} f=${f//%2F//} f=${f//%2f//}
		echo "$d $f $status"
	done
}

# registry_blob_files: the digest of every blob committed to the current registry's storage.
registry_blob_files() {
	local b=$REGISTRY_DIR/storage/docker/registry/v2/blobs
	[ -d "$b" ] || return 0
	find "$b" -name data -type f | sed -E 's|.*/blobs/([a-z0-9]+)/../([0-9a-f]+)/data$|\1:\2|' | sort
}

# registry_token SCOPE...: a bearer token from the issuer (token mode), for alice.
registry_token() {
	local q="service=stowage-e2e-registry" s
	for s in "$@"; do q+="&scope=$s"; done
	curl -sf --max-time 5 -u "$REGISTRY_USER:$REGISTRY_PASS" "$TOKEN_REALM?$q" | jq -re .token
}

# registry_curl PATH [CURL ARGS...]: a request to the current registry, authenticated
# as alice (Basic, or a bearer token for the repository PATH names with pull,push).
registry_curl() {
	local path=$1 auth=() repo from tok; shift
	case $REGISTRY_MODE in
	basic) auth=(-u "$REGISTRY_USER:$REGISTRY_PASS") ;;
	token)
		repo=$(sed -nE 's#^/v2/(.+)/(manifests|blobs|tags)/.*#\1#p' <<<"$path")
		from=$(sed -nE 's#.*[?&]from=([^&]+).*#\1#p' <<<"$path")   # a mount also needs pull on its source
		tok=$(registry_token ${repo:+"repository:$repo:pull,push"} ${from:+"repository:$from:pull"}) || return
		auth=(-H "Authorization: Bearer $tok")
		;;
	esac
	curl -s --max-time 20 --cacert "$REGISTRY_CA_DIR/ca.crt" "${auth[@]}" "$@" "$REGISTRY_URL$path"
}

# registry_skopeo_args: the skopeo options that reach the current registry
# (prints one per line; use with mapfile).
registry_skopeo_args() {
	case $REGISTRY_MODE in
	plain) echo --tls-verify=false ;;
	basic) printf '%s\n' "--cert-dir=$REGISTRY_CA_DIR" "--creds=$REGISTRY_USER:$REGISTRY_PASS" ;;
	token) printf '%s\n' --tls-verify=false "--creds=$REGISTRY_USER:$REGISTRY_PASS" ;;
	esac
}

# --- check helpers shared by the registry tests (6x, 7x) ---

# prereq DESC CMD...: expect_success, remembering whether it passed; the checks
# that only mean something after it (a log count after a push) run through dep.
PREREQ_OK=1 PREREQ_DESC=
prereq() {
	local before=$_failed
	expect_success "$@"
	PREREQ_DESC=$1
	if [ "$_failed" -eq "$before" ]; then PREREQ_OK=1; else PREREQ_OK=0; fi
}
# dep CHECK DESC ARGS...: runs CHECK (expect_success, ...) if the last prereq
# passed; otherwise the check is left out (the failed prereq is counted already)
# with a "# skipped" comment, so that nothing passes vacuously.
dep() {
	if [ "$PREREQ_OK" = 1 ]; then "$@"; else echo "# skipped: $2 (needs: $PREREQ_DESC)"; fi
}
# jq_ok FILE FILTER [JQ ARGS...]: FILTER is true for the JSON in FILE; shows FILE if not.
jq_ok() {
	local f=$1 q=$2 got; shift 2
	if [ "$f" != /dev/stdin ] && [ ! -s "$f" ]; then echo "$f is empty or missing" >&2; return 1; fi
	got=$(jq -c "$@" "$q" "$f" 2>&1 | tail -n 1)
	[ "$got" = true ] && return 0
	echo "jq '$q' gives '$got' for $f: $(head -c 1200 "$f" 2>/dev/null)" >&2
	return 1
}
# equals WHAT GOT WANT: GOT = WANT, and WANT is not empty (nothing passes vacuously)
equals() {
	[ -n "$3" ] || { echo "$1: nothing to compare with (want is empty; got '$2')" >&2; return 1; }
	[ "$2" = "$3" ] || { echo "$1: got '$2', want '$3'" >&2; return 1; }
}
# is_zero WHAT N: N is 0
is_zero() { [ "$2" = 0 ] || { echo "$1: got $2, want 0" >&2; return 1; }; }
# dig FILE: the contents of a digest file, quietly empty if it is missing
dig() { cat "$1" 2>/dev/null; }
# one_error_line FILE REGEX: FILE holds exactly one line, starting "stowage", matching REGEX (ERE, case-insensitive)
one_error_line() {
	local n
	n=$(wc -l <"$1")
	[ "$n" -eq 1 ] || { echo "stderr has $n lines, want 1: $(head -c 600 "$1")" >&2; return 1; }
	grep -q '^stowage' "$1" || { echo "stderr does not start with 'stowage': $(head -c 300 "$1")" >&2; return 1; }
	grep -qiE -- "$2" "$1" || { echo "stderr does not match /$2/: $(head -c 300 "$1")" >&2; return 1; }
}
# fails_cleanly DESC REGEX CMD...: CMD exits 1..125 with one stderr line starting
# "stowage" that matches REGEX (ERE, case-insensitive); its output stays in $OUT/$ERR.
fails_cleanly() {
	local desc=$1 re=$2 st=0 why; shift 2
	_run "$@" || st=$?
	if [ "$st" -eq 0 ] || [ "$st" -gt 125 ]; then fail "$desc" "exit $st (want an error) from: $*"
	elif ! why=$(one_error_line "$ERR" "$re" 2>&1); then fail "$desc" "$why (from: $*)"
	else pass "$desc"
	fi
}
