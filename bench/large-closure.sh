# Builder for one store path of bench/large-closure.nix (run by /bin/sh with
# PATH=/usr/bin:/bin). Environment: out, kind, idx, scale (percent), deps
# (store paths this one refers to).
#
# The layout (file names, sizes, text) comes from one awk program driven by a
# fixed linear congruential generator seeded with (kind, idx): integer-exact
# in double arithmetic, so any awk gives the same files. "Binary" files are
# one AES-128-CTR keystream per store path (fixed key, IV = kind and idx), cut
# in order into the listed sizes: deterministic and incompressible. Text files
# are source-like lines from a fixed vocabulary (compresses like code does).
set -eu

mkdir -p "$out/nix-support"
# Real references: Nix finds these hashes when it scans the output.
: >"$out/nix-support/deps"
for d in $deps; do echo "$d" >>"$out/nix-support/deps"; done

case $kind in
root)
  # Like nixpkgs' buildEnv: bin/ of every dependency linked in by absolute path.
  mkdir -p "$out/bin"
  for d in $deps; do
    [ -d "$d/bin" ] || continue
    for f in "$d"/bin/*; do ln -s "$f" "$out/bin/${f##*/}"; done
  done
  exit 0 ;;
top) exit 0 ;;
esac

awk -v out="$out" -v kind="$kind" -v idx="$idx" -v scale="$scale" -v deps="$deps" '
function rnd(n) { seed = (seed * 48271) % 2147483647; return seed % n }
function sz(x) { x = int(x * scale / 100); return x < 1 ? 1 : x }
function cnt(x) { x = int(x * scale / 100 + 0.5); return x < 1 ? 1 : x }
function dirof(p) { sub(/\/[^\/]*$/, "", p); return p }
function bin(p, n) { nb++; bp[nb] = p; bs[nb] = sz(n); dirs[dirof(p)] = 1 }
function txt(p, n) { nt++; tp[nt] = p; ts[nt] = sz(n); dirs[dirof(p)] = 1 }
function word() { return w[1 + rnd(nw)] }
function text(f, n,    done, line, k, ntok) {
	done = 0
	while (done < n) {
		line = substr("                ", 1, 4 * rnd(4))
		ntok = 2 + rnd(10)
		if (rnd(8) == 0) line = line "# " word() " "
		else line = line word() " = " word() "("
		for (k = 0; k < ntok; k++) line = line (k ? sep[1 + rnd(nsep)] : "") word()
		line = line ")"
		if (rnd(16) == 0) line = line "  # " word() " " word() " " rnd(4096)
		printf "%s\n", line > f
		done += length(line) + 1
	}
	close(f)
}
BEGIN {
	nw = split("self return def if else elif for in while import from class None True False " \
	  "try except raise with as lambda yield not and or is pass break continue assert " \
	  "buffer value index count result data name path config item node key items parser " \
	  "stream handle offset length module error args kwargs options state table entry " \
	  "token header context level format encode decode read write open close flush seek " \
	  "size start end first last next prev parent child children left right root tree " \
	  "list dict set tuple str int float bytes len range enumerate zip map filter sorted " \
	  "append extend insert remove pop update get keys values copy clear split join strip " \
	  "lower upper replace find startswith endswith encoding errors strict default " \
	  "callback handler event loop task future result timeout retry cache lock thread " \
	  "process signal socket address port host request response status code message " \
	  "logger debug info warning exception traceback frame line column source target " \
	  "0 1 2 8 16 32 255 1024 4096 0x7f 0xff", w, " ")
	nsep = split(", |, |, |.| + | - | * | == | % |[|][|, ", sep, "|")
	kn = kind == "base" ? 1 : kind == "big" ? 2 : kind == "lib" ? 3 : kind == "interp" ? 4 : kind == "pkg" ? 5 : 6
	seed = (kn * 1000003 + idx * 7919 + 1) % 2147483647
	for (k = 0; k < 8; k++) rnd(2)
	KB = 1024; MB = 1024 * KB
	if (kind == "base") {
		# a libc: a few libraries, gconv modules, locale data
		bin("lib/libc.so.6", 2500 * KB); bin("lib/ld-linux-x86-64.so.2", 220 * KB)
		bin("lib/libm.so.6", 900 * KB); bin("lib/libpthread.so.0", 40 * KB)
		n = cnt(200); for (i = 0; i < n; i++) bin("lib/gconv/MOD" i ".so", 10 * KB + rnd(50 * KB))
		n = cnt(400); for (i = 0; i < n; i++) txt("share/locale/l" (i % 40) "/LC_" i, KB + rnd(7 * KB))
	} else if (kind == "big") {
		# a huge library (think libLLVM, libxul) and its headers
		split("72 56 40 32", big, " ")
		bin("lib/libbig" idx ".so.1", big[1 + idx % 4] * MB)
		n = cnt(20); for (i = 0; i < n; i++) txt("include/big" idx "/h" i ".h", 2 * KB + rnd(14 * KB))
	} else if (kind == "lib") {
		bin("lib/libbench" idx ".so.1", 256 * KB + rnd(7680 * KB))
		n = cnt(10 + rnd(30)); for (i = 0; i < n; i++) txt("include/bench" idx "/h" i ".h", KB + rnd(15 * KB))
		txt("lib/pkgconfig/bench" idx ".pc", 300); txt("share/doc/bench" idx "/README", 4 * KB)
	} else if (kind == "interp") {
		# an interpreter with a Python-like standard library: many small files
		bin("bin/interp" idx, 2 * MB + rnd(2 * MB))
		bin("lib/libinterp" idx ".so.1", 512 * KB + rnd(1536 * KB))
		nd = cnt(120); n = cnt(3500)
		for (i = 0; i < n; i++) txt("lib/interp" idx "/pkg" rnd(nd) "/mod" i ".py", 128 + rnd(8000))
		n = cnt(60); for (i = 0; i < n; i++) bin("lib/interp" idx "/lib-dynload/ext" i ".so", 20 * KB + rnd(280 * KB))
	} else if (kind == "pkg") {
		# an application: executables, maybe a private library, man pages, data
		nbins = 1 + rnd(3)
		for (i = 0; i < nbins; i++) {
			bin("bin/pkg" idx "-tool" i, 32 * KB + rnd(1536 * KB))
			txt("share/man/man1/pkg" idx "-tool" i ".1", 2 * KB + rnd(18 * KB))
		}
		if (rnd(2)) bin("lib/libpkg" idx ".so.0", 64 * KB + rnd(2 * MB))
		n = cnt(2 + rnd(10)); for (i = 0; i < n; i++) txt("share/doc/pkg" idx "/doc" i ".txt", 512 + rnd(12 * KB))
		n = cnt(10 + rnd(60)); for (i = 0; i < n; i++) txt("share/pkg" idx "/data/d" (i % 7) "/f" i, 256 + rnd(8 * KB))
	} else {
		# a small path: a wrapper script and a little configuration
		n = 1 + rnd(6); for (i = 0; i < n; i++) txt("etc/small" idx "/conf" i, 64 + rnd(2 * KB))
	}
	dl = ""; for (d in dirs) dl = dl " \"" out "/" d "\""
	if (system("mkdir -p" dl) != 0) exit 1
	for (i = 1; i <= nt; i++) text(out "/" tp[i], ts[i])
	for (i = 1; i <= nb; i++) print bp[i], bs[i]
}' >bins.txt

if [ "$kind" = small ]; then
  # wrapper scripts pointing into the dependencies (more references)
  mkdir -p "$out/bin"
  for d in $deps; do
    printf '#!/bin/sh\nexec %s/bin/run "$@"\n' "$d" >"$out/bin/small$idx-${d##*/}"
  done
  chmod +x "$out"/bin/*
fi

k=000102030405060708090a0b0c0d0e0f
case $kind in base) kn=1 ;; big) kn=2 ;; lib) kn=3 ;; interp) kn=4 ;; pkg) kn=5 ;; *) kn=6 ;; esac
iv=$(printf '%016x%016x' "$kn" "$idx")
openssl enc -aes-128-ctr -K $k -iv "$iv" -nosalt -in /dev/zero 2>/dev/null | {
  while read -r f n <&3; do
    head -c "$n" >"$out/$f"
    [ "$(stat -c %s "$out/$f")" = "$n" ] || { echo "short file $f" >&2; exit 1; }
  done 3<bins.txt
}
[ -d "$out/bin" ] && chmod +x "$out"/bin/* || true
