# tests/e2e/lib.sh: sourced by every numbered end-to-end test script.
#
# Each script prints TAP-ish lines ("ok N - desc" / "not ok N - desc", with
# "# " diagnostics under a failure) and exits non-zero if any check failed.
# STOWAGE names the binary under test (tests/run.sh runs every script once
# with build/stowage and once with the ASan+UBSan build/san/stowage).
set -u
set -a   # variables the scripts set reach the check functions that _run starts in a child bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STOWAGE=$(realpath "${STOWAGE:-$TOP/build/stowage}")
FIX=$TOP/build/fixtures                  # made by tests/fixtures/build.sh
RUN_ID=$$                                # unique per run; $$ differs inside check functions
LIMIT=${E2E_TIMEOUT:-120}                # seconds any one checked command may take

# A scratch directory per script, removed on exit with whatever at_exit adds.
SCRATCH=$(mktemp -d "/tmp/stowage-e2e-$(basename "$0" .sh).XXXXXX")
CACHE=$SCRATCH/cache                     # isolates the digest cache from the user's
XDG_CACHE_HOME=$SCRATCH/xdg-cache        # and so does this, for commands given no --cache-dir
OUT=$SCRATCH/.stdout ERR=$SCRATCH/.stderr   # what the last checked command printed
_cleanups=()
at_exit() { _cleanups+=("$1"); }
_finish() {
	local c
	for c in "${_cleanups[@]}"; do eval "$c" >/dev/null 2>&1; done
	rm -rf "$SCRATCH"
}
trap _finish EXIT
trap 'exit 130' INT TERM

_n=0 _failed=0
pass() { _n=$((_n + 1)); echo "ok $_n - $1"; }
fail() { # fail DESC WHY: reports a failed check with what the command printed
	_n=$((_n + 1)) _failed=$((_failed + 1))
	echo "not ok $_n - $1"
	echo "#   $2"
	[ -s "$ERR" ] && head -c 1500 "$ERR" | head -n 8 | sed 's/^/#   stderr: /'
	[ -s "$OUT" ] && head -c 1500 "$OUT" | head -n 8 | sed 's/^/#   stdout: /'
	return 0
}
done_testing() { [ "$_failed" -eq 0 ]; exit; }

# bounded SECONDS CMD...: CMD (a program, not a shell function) killed after SECONDS.
bounded() { local secs=$1; shift; timeout -k 5 "$secs" "$@"; }

# Runs CMD with its output in $OUT and $ERR, killed after $LIMIT seconds
# (LIMIT=300 expect_success ... raises it); returns CMD's exit status. A shell
# function or builtin (eval '...') runs in a child bash with pipefail, so a
# failing stage fails it.
_run() {
	if [[ $(type -t "$1") = @(function|builtin) ]]; then
		export -f $(compgen -A function)   # names without spaces: split on purpose
		set -- bash -o pipefail -c '"$@"' _ "$@"
	fi
	bounded "$LIMIT" "$@" >"$OUT" 2>"$ERR" </dev/null
}

expect_success() { # expect_success DESC CMD...: CMD exits 0
	local desc=$1 st=0; shift
	_run "$@" || st=$?
	if [ "$st" -eq 0 ]; then pass "$desc"; else fail "$desc" "exit $st from: $*"; fi
}

expect_failure() { # expect_failure DESC CMD...: CMD exits 1..125 (an error, not a crash or a timeout)
	local desc=$1 st=0; shift
	_run "$@" || st=$?
	if [ "$st" -ge 1 ] && [ "$st" -le 125 ]; then pass "$desc"; else fail "$desc" "exit $st from: $*"; fi
}

# expect_error DESC TEXT CMD...: CMD fails cleanly and says so on stderr in one
# line that starts with "stowage" and contains TEXT (e.g. the input at fault).
expect_error() { _expect_error any "$@"; }
expect_usage_error() { _expect_error 2 "$@"; }   # the same, with exit status 2
_expect_error() {
	local want=$1 desc=$2 text=$3 st=0 lines; shift 3
	_run "$@" || st=$?
	lines=$(wc -l <"$ERR")
	if [ "$st" -eq 0 ] || [ "$st" -gt 125 ]; then fail "$desc" "exit $st (want an error) from: $*"
	elif [ "$want" != any ] && [ "$st" -ne "$want" ]; then fail "$desc" "exit $st (want $want) from: $*"
	elif [ "$lines" -ne 1 ]; then fail "$desc" "stderr has $lines lines, want 1"
	elif ! head -c 7 "$ERR" | grep -q '^stowage'; then fail "$desc" "stderr does not start with 'stowage'"
	elif ! grep -qF -- "$text" "$ERR"; then fail "$desc" "stderr does not mention '$text'"
	else pass "$desc"
	fi
}

# Small tools the scripts share.
same() { [ "$1" = "$2" ] || { echo "'$1' != '$2'" >&2; return 1; }; }   # says what differed
sha256() { sha256sum "$1" | cut -d' ' -f1; }
# graph_json DIR...: an exportReferencesGraph for plain directories without references
graph_json() { jq -n '[$ARGS.positional[] | {path: ., references: []}]' --args "$@"; }
# layer_tar IMAGE.json INDEX: the uncompressed tar of layer INDEX, from stowage's own stream
layer_tar() {
	local diff_id
	diff_id=$(jq -r ".layers[$2].diff_id" "$1" | cut -d: -f2) || return
	"$STOWAGE" copy "$1" - | tar -xO "$diff_id/layer.tar"
}
# tar_field TAR PATH FIELD: FIELD (type, mode, uid, gid, size, linkname, devmajor,
# devminor) of entry PATH, as python's tarfile reads it; PATH may be any bytes
tar_field() {
	python3 - "$@" <<'PY'
import os, sys, tarfile
tar, path, field = sys.argv[1], os.fsencode(sys.argv[2]), sys.argv[3]
with tarfile.open(tar, encoding="utf-8", errors="surrogateescape") as t:
    for m in t:
        if os.fsencode(m.name) == path:
            v = getattr(m, field)
            v = "%o" % v if field == "mode" else v.decode() if isinstance(v, bytes) else str(v)
            sys.stdout.buffer.write(os.fsencode(v) + b"\n")
            sys.exit(0)
sys.exit("no entry %r in %s" % (path, tar))
PY
}
# unpack LAYOUT:TAG BUNDLE: umoci's unpack, an independent reader of the layout
unpack() { umoci unpack --image "$1" "$2" >/dev/null; }
# run_in ROOTFS ARCH PROGRAM ARGS...: runs one program in an unpacked rootfs
# (arm64 through qemu-user, since binfmt_misc is not available here)
run_in() {
	local root=$1 arch=$2; shift 2
	case $arch in
	amd64) chroot "$root" "$@" ;;
	arm64) cp /usr/bin/qemu-aarch64-static "$root/" && chroot "$root" /qemu-aarch64-static "$@" ;;
	*) echo "run_in: unknown arch $arch" >&2; return 2 ;;
	esac
}
