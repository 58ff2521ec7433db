# A reproducible Nix database for the store paths an image holds, as a
# copy-to-root tree, so `nix` inside the container knows its own store:
#
#   mkNixDatabase { paths = [ root layerJson ]; exclude = [ root layerJson ]; nixUid = 1000; }
#
# paths: what the image is made of; the database registers their closure.
# exclude: paths of that closure the image does not hold in /nix/store
#   (copy-to-root trees, whose contents stowage places at / instead, and
#   layer JSON files); each is left out unless a registered path refers to it.
# nixUid/nixGid: who owns /nix/store and /nix/var/nix in the image, so that
#   user can add paths and write the database (perms below).
#
# The result is a derivation holding nix/var/nix/db/{db.sqlite,schema},
# nix/var/nix/gcroots/stowage/<path> links (nothing in the image is garbage
# collected) and an empty nix/store (the entry that carries the owner), with
# attribute `perms`: the rules buildImage passes on to stowage.
#
# Reproducible: registration from exportReferencesGraph (narHash, narSize,
# references: no reading of the store), registrationTime fixed, and the
# SQLite file rebuilt from its SQL dump so its pages do not depend on the
# order of the updates (as nix2container does). Host independent as long as
# the nix and sqlite of buildPkgs are the same.
{ buildPkgs, ... }:
{ paths
, exclude ? [ ]
, nixUid ? 0
, nixGid ? 0
, registrationTime ? 1   # the layers' mtime, 1970-01-01T00:00:01Z
, name ? "nix-database"
}:
let
  tools = [ buildPkgs.coreutils buildPkgs.jq buildPkgs.sqlite buildPkgs.nix ];

  db = derivation {
    inherit name;
    system = buildPkgs.stdenv.buildPlatform.system or builtins.currentSystem;
    builder = "${buildPkgs.bash}/bin/bash";
    __structuredAttrs = true;
    exportReferencesGraph.closure = paths;
    exclude = map toString exclude;
    inherit registrationTime;
    PATH = builtins.concatStringsSep ":" (map (p: "${p}/bin") tools);
    args = [ "-c" ''
      set -euo pipefail
      source .attrs.sh
      out=''${outputs[out]}
      export PATH HOME=$PWD USER=nobody NIX_REMOTE="local?root=$PWD/state"

      # nix-store --dump-db format: path, narHash, narSize, deriver,
      # number of references, references. An excluded path stays when
      # another registered path refers to it (the image then holds it).
      jq -r '
        .exclude as $ex
        | [.closure[] | .path as $p | .references[] | select(. != $p)] as $referenced
        | [.closure[] | select((.path as $p | $ex | index($p)) == null
                               or (.path as $p | $referenced | index($p)) != null)]
        | (map(.path)) as $kept
        | sort_by(.path)[]
        | [.path, .narHash, (.narSize | tostring), "",
           ([.references[] | select(. as $r | $kept | index($r))] | sort) as $refs
           | ($refs | length | tostring), $refs[]]
        | flatten[]' .attrs.json > registration
      nix-store --load-db < registration

      sqlite3 state/nix/var/nix/db/db.sqlite \
        "UPDATE ValidPaths SET registrationTime = $registrationTime;"
      sqlite3 state/nix/var/nix/db/db.sqlite .dump > db.dump
      mkdir -p "$out/nix/var/nix/db" "$out/nix/var/nix/gcroots/stowage" "$out/nix/store"
      sqlite3 "$out/nix/var/nix/db/db.sqlite" < db.dump
      cp state/nix/var/nix/db/schema "$out/nix/var/nix/db/schema"
      chmod 0644 "$out/nix/var/nix/db/db.sqlite" "$out/nix/var/nix/db/schema"
      while read -r p; do
        ln -s "$p" "$out/nix/var/nix/gcroots/stowage/''${p##*/}"
      done < <(sqlite3 "$out/nix/var/nix/db/db.sqlite" "SELECT path FROM ValidPaths ORDER BY path;")
    '' ];
  };
in
db // {
  # Directories 0755 and the two files 0644, owned by nixUid:nixGid; the
  # gcroot links keep root (the owner of a link does not matter to Nix).
  perms = [
    { regex = "^/nix/store$"; mode = "0755"; uid = nixUid; gid = nixGid; }
    { regex = "^/nix/var(/nix(/db|/gcroots(/stowage)?)?)?$"; mode = "0755"; uid = nixUid; gid = nixGid; }
    { regex = "^/nix/var/nix/db/(db\\.sqlite|schema)$"; mode = "0644"; uid = nixUid; gid = nixGid; }
  ];
}
