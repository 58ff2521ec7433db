#!/usr/bin/env bash
# Outputs appear whole or not at all. A copy killed by SIGINT or SIGTERM
# in the middle (to a docker-archive, an oci-archive, a new OCI layout, an
# existing one) leaves no destination, no temporary file and no staging
# directory, and an existing layout exactly as it was; concurrent copies
# into one layout (new or existing) all land, each tag in index.json; the
# layout holds no lock file and skopeo and umoci read it.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64

expect_success "build: a big image (bash, coreutils, fd, rg: several MB of gzip work per copy)" \
	"$STOWAGE" build --root "$F/fd-root" --root "$F/rg-root" "$F/bash" "$F/coreutils" --arch amd64 --name big --tag 1 \
	--cache-dir "$CACHE" -o big.json
expect_success "build: fd" "$STOWAGE" build --root "$F/fd-root" --arch amd64 --name fd --tag 1 --cache-dir "$CACHE" -o fd.json
expect_success "build: rg" "$STOWAGE" build --root "$F/rg-root" --arch amd64 --name rg --tag 1 --cache-dir "$CACHE" -o rg.json

# interrupt SIG DIR DEST GLOB: starts `stowage copy big.json DEST` in DIR, waits (bounded, 60 s) until a
# file or directory matching GLOB (the copy's temporaries) exists, sends SIG; prints the copy's exit status
interrupt() {
	local sig=$1 dir=$2 dest=$3 glob=$4 pid i seen=0 st=0
	(cd "$dir" && exec "$STOWAGE" copy "$SCRATCH/big.json" "$dest" --jobs 1) >/dev/null 2>"$SCRATCH/int.err" &
	pid=$!
	for ((i = 0; i < 6000; i++)); do
		if compgen -G "$dir/$glob" >/dev/null; then seen=1; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	[ "$seen" = 1 ] && kill "-$sig" "$pid"
	wait "$pid" || st=$?
	echo "$st $seen"
}
# debris DIR: what is in DIR besides what was there before (names in $SCRATCH/before)
debris() { comm -13 "$SCRATCH/before" <(cd "$1" && find . | sort) | paste -sd ' '; }

one_line_interrupted() { [ "$(wc -l <"$1")" = 1 ] && grep -q '^stowage: interrupted' "$1"; }
n=0
for sig in INT TERM; do
	for dest in docker-archive:out.tar oci-archive:out.oci.tar oci:layout:1; do
		n=$((n + 1))
		d=$SCRATCH/int$n
		mkdir -p "$d" && (cd "$d" && find . | sort) >"$SCRATCH/before"
		case $dest in
		oci:*) glob='layout.stowage-*.tmp/blobs/sha256/*' ;;
		*) glob="${dest#*:}.*.tmp" ;;
		esac
		read -r st seen < <(interrupt "$sig" "$d" "$dest" "$glob")
		if [ "$seen" != 1 ]; then
			fail "SIG$sig mid-copy to $dest" "the copy ended (exit $st) before its temporaries were seen"
			continue
		fi
		expect_success "SIG$sig mid-copy to $dest: exit status 128+signal ($st)" test "$st" -eq $((128 + $(kill -l "$sig")))
		expect_success "SIG$sig mid-copy to $dest: no destination, no temporary left ($(debris "$d"))" test -z "$(debris "$d")"
		cp "$SCRATCH/int.err" "$SCRATCH/int$n.err"
		expect_success "SIG$sig mid-copy to $dest: one line says so" one_line_interrupted "$SCRATCH/int$n.err"
	done
done

# an existing layout, interrupted while big's blobs are added: exactly as it was
d=$SCRATCH/existing
mkdir -p "$d"
expect_success "existing layout: fd copied to oci:layout:fd" eval '(cd "$d" && "$STOWAGE" copy "$SCRATCH/fd.json" oci:layout:fd)'
(cd "$d" && find . -type f -exec sha256sum {} + | sort) >"$SCRATCH/sums.before"
(cd "$d" && find . | sort) >"$SCRATCH/before"
read -r st seen < <(interrupt TERM "$d" oci:layout:big 'layout/blobs/sha256/*.tmp')
if [ "$seen" = 1 ]; then
	expect_success "SIGTERM mid-copy into an existing layout: exit $st, no new file left ($(debris "$d"))" test -z "$(debris "$d")"
	expect_success "SIGTERM mid-copy into an existing layout: every file as it was (index.json too)" \
		eval 'diff <(cd "$d" && find . -type f -exec sha256sum {} + | sort) "$SCRATCH/sums.before"'
	expect_success "SIGTERM mid-copy into an existing layout: umoci still unpacks fd" unpack "$d/layout:fd" "$SCRATCH/fd-bundle"
else
	fail "SIGTERM mid-copy into an existing layout" "the copy ended (exit $st) before its temporaries were seen"
fi

# --- concurrent writers ---
concurrent() { # concurrent DIR N: N copies (fd, rg alternating) into DIR/layout at once, each with its own tag
	local dir=$1 k pids=() bad=0
	for ((k = 1; k <= $2; k++)); do
		(cd "$dir" && exec "$STOWAGE" copy "$SCRATCH/$([ $((k % 2)) = 0 ] && echo fd || echo rg).json" "oci:layout:t$k") \
			>/dev/null 2>"$dir/c$k.err" &
		pids+=($!)
	done
	for k in "${pids[@]}"; do wait "$k" || bad=$((bad + 1)); done
	[ "$bad" = 0 ] || { echo "$bad of $2 copies failed: $(cat "$dir"/c*.err | head -c 400)" >&2; return 1; }
}
tags_are() { # tags_are LAYOUT N: index.json names exactly t1..tN
	same "$(jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | sort | join(" ")' "$1/index.json")" \
		"$(for ((k = 1; k <= $2; k++)); do echo "t$k"; done | sort | paste -sd ' ')"
}
mkdir -p "$SCRATCH/new2" "$SCRATCH/new8"
expect_success "two concurrent copies into one new layout both succeed" concurrent "$SCRATCH/new2" 2
expect_success "two concurrent copies into one new layout: both tags in index.json" tags_are "$SCRATCH/new2/layout" 2
expect_success "eight concurrent copies into one new layout all succeed" concurrent "$SCRATCH/new8" 8
expect_success "eight concurrent copies: all eight tags in index.json" tags_are "$SCRATCH/new8/layout" 8
expect_success "eight concurrent copies: no staging directory or temporary left" \
	test -z "$(cd "$SCRATCH/new8" && find . -name '*.tmp*')"
expect_success "eight concurrent copies into that (now existing) layout again, new tags t1..t8 moved: all succeed" \
	concurrent "$SCRATCH/new8" 8
expect_success "the layout holds no lock file (.stowage.lock)" test ! -e "$SCRATCH/new8/layout/.stowage.lock"
expect_success "skopeo inspects t1 and t2 of the concurrently written layout" \
	eval 'skopeo inspect "oci:$SCRATCH/new8/layout:t1" >/dev/null && skopeo inspect "oci:$SCRATCH/new8/layout:t2" >/dev/null'
expect_success "umoci unpacks t8 of the concurrently written layout" unpack "$SCRATCH/new8/layout:t8" "$SCRATCH/t8-bundle"
blobs_ok() { # every blob in the layout hashes to its name
	local f
	for f in "$1"/blobs/sha256/*; do
		[ "$(sha256 "$f")" = "$(basename "$f")" ] || { echo "$f does not hash to its name" >&2; return 1; }
	done
}
expect_success "every blob of the concurrently written layout hashes to its name" blobs_ok "$SCRATCH/new8/layout"

done_testing
