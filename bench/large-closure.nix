# A large, deterministic closure in the real Nix store, for benchmarks:
# 307 store paths that refer to each other (a DAG with three "environment"
# roots under one top path), about 1 GiB and ~40,000 files at the default
# scale. It stands for a real application closure:
#
#   1 libc-like base      libraries, 200 gconv modules, 400 locale files   ~13 MB
#   4 huge libraries      one 32-72 MB blob each (libLLVM, libxul)        ~200 MB
#  60 shared libraries    one 0.25-8 MB .so + 10-40 headers each          ~250 MB
#   8 interpreters        binary + ~3,500 small .py files + 60 ext .so    ~250 MB
# 150 applications        1-3 executables, maybe a .so, man pages, data   ~260 MB
#  80 small paths         wrapper scripts and configuration files
#   3 environments        bin/ symlinks into applications (buildEnv-like)
#   1 top                 refers to the three environments
#
# Binaries are AES-CTR keystream (incompressible), text is source-like (gzip
# gets it to ~30%). Everything is a pure function of (kind, index, scale):
# see large-closure.sh. Each path writes its dependencies' store paths into
# nix-support/deps, so Nix records real references.
#
#   nix-build bench/large-closure.nix -o build/bench/large              # ~1 GiB
#   nix-build bench/large-closure.nix --argstr scale 10 -o /tmp/small   # ~100 MB
#
# scale: percent of the default byte sizes and of the many-file counts (the
# number of store paths stays 307).
#
# touch: the index (in specs, 0-based) of one path whose first file (bytewise
# order) gets a line appended: a small change to one store path, which gives
# it and the paths that refer to it new store paths, as an update does in Nix
# (bench/change.sh). Every other path keeps its store path.
{ scale ? "100", touch ? "-1" }:
assert builtins.match "[1-9][0-9]*" scale != null;
assert builtins.match "-1|[0-9]+" touch != null;
let
  inherit (builtins) genList elemAt length concatMap filter listToAttrs foldl' elem;
  mod = a: b: a - (a / b) * b;
  min = a: b: if a < b then a else b;
  # a fixed pseudo-random integer in [0, n) for (i, k)
  h = i: k: n: mod (mod (i * 2654435761 + k * 40503 + (i + k) * (i + 7) * 97 + 12345) 1000003) n;
  uniq = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];

  nBig = 4; nLib = 60; nInterp = 8; nPkg = 150; nSmall = 80; nRoot = 3;
  base = 0;
  big = i: 1 + i;
  lib = i: 1 + nBig + i;
  interp = i: 1 + nBig + nLib + i;
  pkg = i: 1 + nBig + nLib + nInterp + i;
  small = i: 1 + nBig + nLib + nInterp + nPkg + i;
  firstRoot = small nSmall;

  # specs: { kind; i; name; deps = [ node ids ]; }, indexed by node id
  inner =
    [ { kind = "base"; i = 0; name = "bench-libc-2.36"; deps = [ ]; } ]
    ++ genList (i: { kind = "big"; inherit i; name = "bench-libbig${toString i}-17.0"; deps = [ base ]; }) nBig
    ++ genList (i: {
      kind = "lib"; inherit i; name = "bench-lib${toString i}-1.${toString (mod i 10)}";
      deps = uniq ([ base ]
        ++ (if i == 0 then [ ] else genList (k: lib (i - 1 - h i (k + 2) (min i 10))) (h i 1 4))
        ++ (if mod i 12 == 0 then [ (big (mod (i / 12) nBig)) ] else [ ]));
    }) nLib
    ++ genList (i: {
      kind = "interp"; inherit i; name = "bench-interp${toString i}-3.${toString i}";
      deps = uniq ([ base ] ++ genList (k: lib (h i (k + 20) nLib)) (2 + h i 3 3)
        ++ (if mod i 2 == 0 then [ (big (mod (i / 2) nBig)) ] else [ ]));
    }) nInterp
    ++ genList (i: {
      kind = "pkg"; inherit i; name = "bench-pkg${toString i}-${toString (1 + mod i 4)}.${toString (h i 5 20)}";
      deps = uniq ([ base ] ++ genList (k: lib (h i (k + 30) nLib)) (1 + h i 6 4)
        ++ (if h i 9 3 == 0 then [ (interp (h i 10 nInterp)) ] else [ ])
        ++ (if i == 0 then [ ] else genList (k: pkg (i - 1 - h i (k + 40) (min i 20))) (h i 7 3)));
    }) nPkg
    ++ genList (i: {
      kind = "small"; inherit i; name = "bench-small${toString i}";
      deps = uniq (genList (k: pkg (h i (k + 50) nPkg)) (1 + h i 8 2)
        ++ (if h i 11 4 == 0 then [ (interp (h i 12 nInterp)) ] else [ ]));
    }) nSmall;

  # Each environment refers to the paths nothing else refers to (id mod 3),
  # so the top's closure is every path.
  referenced = listToAttrs (map (d: { name = toString d; value = true; }) (concatMap (s: s.deps) inner));
  unreferenced = filter (n: !(referenced ? ${toString n})) (genList (n: n) (length inner));
  roots = genList (r: {
    kind = "root"; i = r; name = "bench-env${toString r}";
    deps = filter (n: mod n nRoot == r) unreferenced;
  }) nRoot;
  top = { kind = "top"; i = 0; name = "bench-large-closure-s${scale}"; deps = genList (r: firstRoot + r) nRoot; };
  specs = inner ++ roots ++ [ top ];

  touchScript = "\nf=$(find \"$out\" -type f | LC_ALL=C sort | head -n 1) && echo '# touched' >>\"$f\"\n";

  drvs = genList (n:
    let s = elemAt specs n; in
    derivation {
      inherit (s) name kind;
      system = builtins.currentSystem;
      builder = "/bin/sh";
      args = [ "-c" (builtins.readFile ./large-closure.sh + (if toString n == touch then touchScript else "")) ];
      PATH = "/usr/bin:/bin";
      idx = toString s.i;
      inherit scale;
      deps = map (elemAt drvs) s.deps;
    }) (length specs);
in
elemAt drvs (length specs - 1)
