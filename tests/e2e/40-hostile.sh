#!/usr/bin/env bash
# Hostile inputs: each gives either a clear one-line error naming the input
# (non-zero exit), or correct output checked with independent readers.
. "$(dirname "$0")/lib.sh"
cd "$SCRATCH" || exit 1
D=$SCRATCH/trees   # plain temp dirs stand in for store paths (tar paths drop the leading /)
T=${D#/}
mkdir -p "$D"

build() { "$STOWAGE" build --arch amd64 --cache-dir "$CACHE" "$@"; }
is() { same "$(tar_field "$1" "$2" "$3")" "$4"; }   # is TAR PATH FIELD VALUE
lists() { tar -tvf "$1" | grep -F -- "$2" >/dev/null || { echo "tar -tvf $1 does not list '$2'" >&2; return 1; }; }
# in_listing LISTING MODE SIZE PATH: a `tar -tv` listing shows PATH with this mode string and
# size (or major,minor); listed_as TAR MODE SIZE PATH: the same for tar -tvf TAR
in_listing() { awk -v m="$2" -v s="$3" -v p="$4" '$1 == m && $3 == s && $NF == p { f = 1 } END { exit !f }' "$1"; }
listed_as() { in_listing <(tar -tvf "$1") "${@:2}"; }

# --- closure inputs that do not exist or do not add up ---
expect_error "store path argument that does not exist" /nix/store/00000000000000000000000000000000-missing \
	build /nix/store/00000000000000000000000000000000-missing -o x.json
mkdir -p "$D/a" "$D/b" && echo a >"$D/a/f" && echo b >"$D/b/f"
expect_error "plain dir as a store path argument" "$D/a" build "$D/a" -o x.json
expect_usage_error "no closure input at all" "nothing" build -o x.json

printf '[{"path": "%s", "references": [' "$D/a" >malformed.json
expect_error "malformed graph JSON" malformed.json build --graph malformed.json -o x.json
jq -n --arg a "$D/a" --arg b "$D/b" '[{path: $a, references: [$b]}, {path: $b, references: [$a]}]' >cyclic.json
expect_error "cyclic graph" cyclic.json build --graph cyclic.json -o x.json
jq -n --arg a "$D/a" '[{path: $a, references: [$a]}]' >self.json   # Nix paths often refer to themselves
expect_success "a self-reference is not a cycle" build --graph self.json -o x.json
jq -n --arg a "$D/a" --arg u "$D/unlisted" '[{path: $a, references: [$u]}]' >unlisted.json
expect_error "graph referencing an unlisted path" "$D/unlisted" build --graph unlisted.json -o x.json
jq -n --arg p "$D/a/../b" '[{path: $p, references: []}]' >dotdot.json
expect_error "graph entry with '..'" "$D/a/../b" build --graph dotdot.json -o x.json
expect_error "--root that does not exist" "$D/no-such-root" build --root "$D/no-such-root" -o x.json

# --- a file only root can read, built by nobody ---
mkdir -p "$D/secret/d" "$D/nobody-out" && echo s3cret >"$D/secret/d/key" && chmod 0600 "$D/secret/d/key"
chmod 0711 "$SCRATCH" "$D" && chmod 0755 "$D/secret" "$D/secret/d" && chmod 0777 "$D/nobody-out"
graph_json "$D/secret/d" >secret.json && chmod 0644 secret.json
expect_error "unreadable file, built as nobody" "$D/secret/d/key" setpriv --reuid=nobody --regid=nogroup \
	--clear-groups "$STOWAGE" build --arch amd64 --no-cache --graph secret.json -o "$D/nobody-out/x.json"

# --- special files ---
mkdir -p "$D/special" && mkfifo "$D/special/fifo" && mknod "$D/special/null" c 1 3
graph_json "$D/special" >special.json
expect_success "fifo and device node: build" build --graph special.json --compression none -o special.img
expect_success "fifo and device node: copy" "$STOWAGE" copy special.img oci:special:1
expect_success "fifo and device node: uncompressed layer" eval 'layer_tar special.img 0 >special.tar'
expect_success "tar -tvf lists the fifo" listed_as special.tar prw-r--r-- 0 "$T/special/fifo"
expect_success "tar -tvf lists the device node 1,3" listed_as special.tar crw-r--r-- 1,3 "$T/special/null"
expect_success "umoci unpack accepts them" unpack special:1 special-bundle
expect_success "umoci made a fifo" test -p "special-bundle/rootfs$D/special/fifo"
expect_success "umoci made a character device" test -c "special-bundle/rootfs$D/special/null"

mkdir -p "$D/sock" && python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$D/sock/s"
graph_json "$D/sock" >sock.json
expect_error "a socket" "$D/sock/s" build --graph sock.json -o x.json

# --- names tar cannot hold in a plain ustar header, and symlinks that lead nowhere ---
long=$(printf 'n%.0s' {1..150}) deep=$(printf 'x%.0s' {1..90})/$(printf 'y%.0s' {1..90})
split=$(printf 'x%.0s' {1..90})/$(printf 's%.0s' {1..60})   # fits ustar's prefix + name fields
target=/$(printf 't%.0s' {1..200})
odd=$'odd-\xff\xfe-name'
mkdir -p "$D/names/$deep"
echo long >"$D/names/$long" && echo deep >"$D/names/$deep/$long" && echo odd >"$D/names/$odd"
echo split >"$D/names/$split"
ln -s "$target" "$D/names/longlink" && ln -s "$odd" "$D/names/oddlink"
ln -s loop2 "$D/names/loop1" && ln -s loop1 "$D/names/loop2" && ln -s self "$D/names/self"
ln -s .. "$D/names/up" && ln -s / "$D/names/root"
graph_json "$D/names" >names.json
expect_success "odd names and symlink loops: build" build --graph names.json --compression none -o names.img
expect_success "odd names and symlink loops: uncompressed layer" eval 'layer_tar names.img 0 >names.tar'
expect_success "tar -tvf lists a 150-byte name" lists names.tar "$T/names/$long"
expect_success "tar -tvf lists a $((${#T} + 340))-byte path" lists names.tar "$T/names/$deep/$long"
expect_success "tar -tvf lists a non-UTF-8 name" lists names.tar "$T/names/odd-\\377\\376-name"
expect_success "tarfile: 150-byte name is a regular file" is names.tar "$T/names/$long" type 0
expect_success "tarfile: long path has its 5 bytes" is names.tar "$T/names/$deep/$long" size 5
expect_success "tarfile: $((${#T} + 158))-byte path split over prefix and name" is names.tar "$T/names/$split" size 6
expect_success "tarfile: a directory with a long path" is names.tar "$T/names/$deep" type 5
expect_success "tarfile: non-UTF-8 name, byte for byte" is names.tar "$T/names/$odd" size 4
expect_success "tarfile: non-UTF-8 symlink target, byte for byte" is names.tar "$T/names/oddlink" linkname "$odd"
expect_success "tarfile: 201-byte symlink target" is names.tar "$T/names/longlink" linkname "$target"
expect_success "tarfile: loop1 kept as a symlink to loop2" is names.tar "$T/names/loop1" linkname loop2
expect_success "tarfile: loop2 kept as a symlink to loop1" is names.tar "$T/names/loop2" linkname loop1
expect_success "tarfile: self-link kept" is names.tar "$T/names/self" linkname self
expect_success "tarfile: link to .. kept, not followed" is names.tar "$T/names/up" linkname ..
expect_success "tarfile: link to / kept, not followed" is names.tar "$T/names/root" linkname /

# --- 8 GiB + 1 byte: past what a ustar size field holds; sparse on disk, streamed in full ---
mkdir -p "$D/sparse" && truncate -s $((8 * 1024 * 1024 * 1024 + 1)) "$D/sparse/big"
graph_json "$D/sparse" >sparse.json
list_big() { "$STOWAGE" copy sparse.img - | tar -xO --wildcards '*/layer.tar' | tar -tv >sparse.list; }
LIMIT=300 expect_success "8 GiB + 1 sparse file: build" build --graph sparse.json --compression none -o sparse.img
LIMIT=300 expect_success "8 GiB + 1 sparse file: copy - | tar -tv" list_big
expect_success "tar -tv shows it with 8589934593 bytes" in_listing sparse.list -rw-r--r-- 8589934593 "$T/sparse/big"

# --- content changed after the build: copy refuses, and leaves nothing behind ---
mkdir -p "$D/changing" && echo before >"$D/changing/f"
graph_json "$D/changing" >changing.json
expect_success "changing tree: build" build --graph changing.json -o changing.img
graph_json "$D/a" >a.json
expect_success "another image: build" build --graph a.json -o a.img
expect_success "another image: copy to oci:kept" "$STOWAGE" copy a.img oci:kept:a
(cd kept && find . -type f -exec sha256sum {} + | sort) >kept.before
kept_unchanged() { (cd kept && find . -type f -exec sha256sum {} + | sort) | diff kept.before -; }
echo after_ >"$D/changing/f"   # same size: only the content tells
expect_error "changed content: copy to oci:DIR fails naming the path" "$D/changing" "$STOWAGE" copy changing.img oci:fresh:1
expect_success "changed content: no oci:DIR left" test ! -e fresh
expect_error "changed content: copy to docker-archive fails naming the path" "$D/changing" "$STOWAGE" copy changing.img docker-archive:fresh.tar
expect_success "changed content: no docker-archive file left" test ! -e fresh.tar
expect_error "changed content: copy to oci-archive fails naming the path" "$D/changing" "$STOWAGE" copy changing.img oci-archive:fresh.oci.tar
expect_success "changed content: no oci-archive file left" test ! -e fresh.oci.tar
expect_failure "changed content: copy to - exits non-zero" eval '"$STOWAGE" copy changing.img - >stream.tar'
expect_error "changed content: copy into another image's layout fails naming the path" "$D/changing" "$STOWAGE" copy changing.img oci:kept:bad
expect_success "changed content: that layout is untouched" kept_unchanged
rm "$D/changing/f"
expect_error "removed file: copy fails naming its tree" "$D/changing" "$STOWAGE" copy changing.img oci:fresh:1

# --- a hand-edited image JSON: escapes from the root, malformed fields ---
mkdir -p "$D/esc/bin" && echo x >"$D/esc/bin/x"
expect_success "escape: build a copy-to-root image" build --root "$D/esc" --compression none -o esc.json
for repl in '/../../etc' '../../x' '/x/../../..'; do
	jq --arg r "$repl" '.layers[0].paths[0].rewrite.repl = $r' esc.json >esc-edited.json
	expect_error "rewrite to '$repl': copy refuses (no entry outside the root)" "escapes the image root" \
		"$STOWAGE" copy esc-edited.json oci:esc-out:1
	expect_success "rewrite to '$repl': no layout left" test ! -e esc-out
done
jq --arg p "$D/esc/../esc" '.layers[0].paths[0].path = $p' esc.json >esc-dotdot.json
expect_error "a store path with '..' in the image JSON: copy refuses" "escapes the image root" "$STOWAGE" copy esc-dotdot.json oci:esc-out:1
jq '.layers[0].paths[0].path = "relative/dir"' esc.json >esc-relative.json
expect_error "a relative store path in the image JSON: refused when read" "not absolute" "$STOWAGE" inspect esc-relative.json
n=0
for edit in '.layers[0].digest = 5' '.layers[0].size = -1' '.layers[0].size = 1e400' '.version = 99' '.layers = {}' \
	'.layers[0].paths = "x"' '.layers[0].perms = [{"regex": "(", "mode": "0755"}]' '.layers[0].perms = [{"regex": "x", "mode": "99999"}]' \
	'.config = "not an object"' 'del(.config)' '.layers[0].compression = "lzma"' \
	'.layers[0].paths[0].rewrite.regex = "(["'; do
	n=$((n + 1))
	jq "$edit" esc.json >"edit$n.json"
	if "$STOWAGE" inspect "edit$n.json" >/dev/null 2>&1; then   # read fine: then copying it fails cleanly
		expect_error "image JSON with $edit: copy fails with one line" "oci:edit$n" "$STOWAGE" copy "edit$n.json" "oci:edit$n"
		continue
	fi
	expect_error "image JSON with $edit: one line naming the file" "edit$n.json" "$STOWAGE" inspect "edit$n.json"
done
printf '%.0s[' $(seq 1 5000) >deep.json
expect_error "image JSON nested 5000 deep: one line" deep.json "$STOWAGE" inspect deep.json
head -c 100 esc.json >cut.json
expect_error "image JSON cut short: one line" cut.json "$STOWAGE" copy cut.json oci:cut:1
truncate -s 300M huge.json
expect_error "a 300 MB image JSON: refused (read at most 256 MiB)" huge.json "$STOWAGE" inspect huge.json
rm -f huge.json

# --- setuid/setgid bits: kept only when a --perm rule asks ---
mkdir -p "$D/suid/bin" && echo x >"$D/suid/bin/su" && echo y >"$D/suid/bin/sg"
chmod 4755 "$D/suid/bin/su" && chmod 2755 "$D/suid/bin/sg"
expect_success "setuid: build without --perm" build --root "$D/suid" --compression none -o suid.json
expect_success "setuid: uncompressed layer" eval 'layer_tar suid.json 0 >suid.tar'
expect_success "setuid bit dropped by default (4755 -> 755)" is suid.tar bin/su mode 755
expect_success "setgid bit dropped by default (2755 -> 755)" is suid.tar bin/sg mode 755
expect_success "setuid: build with --perm '^/bin/su\$=4755'" build --root "$D/suid" --compression none --perm '^/bin/su$=4755' -o suid2.json
expect_success "setuid: uncompressed layer (with --perm)" eval 'layer_tar suid2.json 0 >suid2.tar'
expect_success "setuid kept when asked" is suid2.tar bin/su mode 4755
expect_success "setgid still dropped (not asked)" is suid2.tar bin/sg mode 755

# --- enormous path lists ---
mkdir -p "$D/many" && (cd "$D/many" && seq -f 'd%06g' 1 20000 | xargs mkdir)
jq -n --arg b "$D/many" '[range(1; 20001) | {path: ($b + "/d" + ("00000" + tostring)[-6:]), references: []}]' >many.json
rss_of() { /usr/bin/time -f '%M' -o rss "$@" && tail -n 1 rss; }
expect_success "a 20000-path graph: build (100 layers)" eval 'rss_of "$STOWAGE" build --arch amd64 --cache-dir "$CACHE" --graph many.json -o many.img >rss.build'
echo "# note: 20000-path graph: build peak RSS $(cat rss.build 2>/dev/null) KiB"
expect_success "a 20000-path graph: build peak RSS under 400 MiB" test "$(cat rss.build 2>/dev/null || echo 999999999)" -lt 409600
expect_success "a 20000-path graph: copy to an OCI layout" "$STOWAGE" copy many.img oci:many:1
expect_success "a 20000-path graph: umoci unpacks it, every directory there" \
	eval 'unpack many:1 many-bundle && [ "$(find "many-bundle/rootfs$D/many" -mindepth 1 -maxdepth 1 -type d | wc -l)" = 20000 ]'
jq -n '[range(1; 300001) | {path: ("/nix/store/" + ("0000000000000000000000000000000" + tostring)[-32:] + "-p"), references: []}]' >huge-graph.json
expect_error "a 300000-path graph of paths that do not exist: one line" /nix/store/ build --graph huge-graph.json -o x.json

done_testing
