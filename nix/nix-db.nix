# A reproducible Nix database for the store paths an image holds, as a
# copy-to-root tree, so `nix` inside the container knows its own store:
#
#   mkNixDatabase { image = imageJson; nixUid = 1000; nixGid = 1000; }
#   mkNixDatabase { paths = [ root ]; exclude = [ root ]; }
#
# image: an image (or layer) JSON; the database registers exactly the store
#   paths its layers place in /nix/store (copy-to-root trees, placed at /,
#   are not in the store of the image and are not registered).
# paths/exclude (instead of image): register the closure of `paths`, less the
#   `exclude`d paths no registered path refers to.
# nixUid/nixGid: who owns /nix/store and /nix/var/nix in the image, so that
#   user can add paths and write the database (the `perms` attribute).
#
# The result is a derivation holding nix/var/nix/db/{db.sqlite,schema},
# nix/var/nix/gcroots/stowage/<path> links (nothing in the image is garbage
# collected) and an empty nix/store (the entry that carries its owner), with
# attribute `perms`: the rules buildImage passes on to stowage.
#
# Reproducible: the registration comes from exportReferencesGraph (narHash,
# narSize, references: no reading of the store), registrationTime is fixed,
# and the SQLite file is rebuilt from its SQL dump so its pages do not
# depend on the order of the updates (as nix2container does). The bytes
# depend only on the inputs and on buildPkgs' nix and sqlite.
{ buildPkgs, ... }:
{ image ? null
, paths ? [ ]
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
    exportReferencesGraph.closure = if image == null then paths else [ image ];
    exclude = map toString exclude;
    image = if image == null then "" else "${image}";
    inherit registrationTime;
    PATH = builtins.concatStringsSep ":" (map (p: "${p}/bin") tools);
    args = [ "-c" ''
      set -euo pipefail
      # structured attributes: newer Nix names the files, 2.8 also leaves them in the build dir
      source "''${NIX_ATTRS_SH_FILE:-.attrs.sh}"
      attrs=''${NIX_ATTRS_JSON_FILE:-$PWD/.attrs.json}
      out=''${outputs[out]}
      export PATH HOME=$PWD USER=nobody NIX_REMOTE="local?root=$PWD/state"

      # The paths to register, as a JSON array.
      if [ -n "$image" ]; then
        jq '[.layers[].paths[] | select(.rewrite == null) | .path] | unique' "$image" > kept.json
      else
        # An excluded path stays when another path of the closure refers to it.
        jq '([.closure[] | .path as $p | .references[] | select(. != $p) | {(.): true}] | add // {}) as $referenced
            | (.exclude | map({(.): true}) | add // {}) as $ex
            | [.closure[].path | select(($ex[.] | not) or $referenced[.])] | unique' "$attrs" > kept.json
      fi
      # nix-store --dump-db format: path, narHash, narSize, deriver,
      # number of references, references.
      jq -r --slurpfile kept kept.json '
        ($kept[0] | map({(.): true}) | add // {}) as $k
        | [.closure[] | select($k[.path])] | sort_by(.path)[]
        | [.references[] | select($k[.])] as $refs
        | .path, .narHash, (.narSize | tostring), "", ($refs | length | tostring), ($refs | sort)[]
        ' "$attrs" > registration
      # Every path to register must be in the closure Nix exported.
      missing=$(jq -r --slurpfile kept kept.json '$kept[0] - [.closure[].path] | .[]' "$attrs")
      if [ -n "$missing" ]; then
        echo "mkNixDatabase: not in the exported closure: $missing" >&2
        exit 1
      fi
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
  # /nix root's; below it directories 0755 and the two files 0644, owned by
  # nixUid:nixGid; the gcroot links keep root (Nix does not mind).
  perms = [
    { regex = "^/nix$"; mode = "0755"; uid = 0; gid = 0; }
    { regex = "^/nix/store$"; mode = "0755"; uid = nixUid; gid = nixGid; }
    { regex = "^/nix/var(/nix(/db|/gcroots(/stowage)?)?)?$"; mode = "0755"; uid = nixUid; gid = nixGid; }
    { regex = "^/nix/var/nix/db/(db\\.sqlite|schema)$"; mode = "0644"; uid = nixUid; gid = nixGid; }
  ];
}
