# buildLayer and buildImage: derivations whose output is stowage's layer or
# image JSON (docs/image-json.md). The builder is the stowage binary itself,
# no shell: Nix hands it the closure of every input as an
# exportReferencesGraph file (graph-0, graph-1, ... in its working
# directory), and it reads no file outside the store. The JSON names its
# store paths, so Nix sees them as references: the closure of the JSON is
# the content of the image.
{ pkgs, stowage, self, util, ... }:
let
  inherit (util) toList imap concatMap sum lower;

  # The builder runs where the derivation is built, whatever the image's arch.
  system = pkgs.stdenv.buildPlatform.system;

  # An upper bound of the layers a layer/image JSON holds, for --max-layers:
  # our own outputs carry it; any other JSON file counts as one layer.
  layerCountOf = l: l.layerCount or 1;

  # "--perm REGEX=MODE:UID:GID"; an empty field leaves that property alone.
  # nix2container's `path` key is accepted and ignored: stowage matches the
  # regex against the path in the image (/tmp, /home/app), whatever layer or
  # store path the entry comes from.
  permArg = p:
    let field = n: if p ? ${n} && p.${n} != null then toString p.${n} else "";
    in [ "--perm" "${p.regex}=${field "mode"}:${field "uid"}:${field "gid"}" ];

  # OCI config keys (any case, as nix2container accepts them) -> CLI flags.
  configFlags = {
    entrypoint = v: [ "--entrypoint" (builtins.toJSON (toList v)) ];
    cmd = v: [ "--cmd" (builtins.toJSON (toList v)) ];
    env = v: concatMap (e: [ "--env" e ])
      (if builtins.isAttrs v then util.mapAttrsToList (k: x: "${k}=${toString x}") v else v);
    user = v: [ "--user" (toString v) ];
    workingdir = v: [ "--workdir" v ];
    labels = v: concatMap (k: [ "--label" "${k}=${v.${k}}" ]) (builtins.attrNames v);
    exposedports = v: concatMap (p: [ "--expose" p ]) (if builtins.isAttrs v then builtins.attrNames v else v);
    volumes = v: concatMap (p: [ "--volume" p ]) (if builtins.isAttrs v then builtins.attrNames v else v);
  };
  configArgs = config:
    let
      keys = builtins.attrNames config;
      flag = k: configFlags.${lower k} or (throw
        "stowage: buildImage: config key '${k}' is not one of Entrypoint, Cmd, Env, User, WorkingDir, Labels, ExposedPorts, Volumes");
    in concatMap (k: if config.${k} == null then [ ] else flag k config.${k}) keys;

  optionalArg = flag: v: if v == null then [ ] else [ flag (toString v) ];

  # One stowage run as a derivation. deps: store paths placed with their
  # closure; roots: copy-to-root trees (their closure is placed too);
  # layers: lower layer/image JSONs, passed as they are (a layer JSON holds
  # its own lower layers, so a chain costs one --layer per link).
  runStowage = { name, command, deps, roots, layers, perms, extraArgs }:
    let
      graphInputs = map toString (util.unique (map toString (deps ++ roots)));
      graphName = i: "graph-${toString i}";
    in
    derivation {
      inherit name system;
      builder = "${stowage}/bin/stowage";
      args = [ command ]
        ++ concatMap (i: [ "--graph" (graphName i) ]) (builtins.genList (i: i) (builtins.length graphInputs))
        ++ concatMap (r: [ "--root" "${r}" ]) roots
        ++ concatMap (l: [ "--layer" "${l}" ]) layers
        ++ concatMap permArg perms
        ++ extraArgs
        # HOME is /homeless-shelter: no digest cache (the build reads the
        # closure once anyway); -o writes the JSON atomically to $out.
        ++ [ "--no-cache" "-o" (builtins.placeholder "out") ];
      exportReferencesGraph = builtins.concatLists (imap (i: p: [ (graphName i) p ]) graphInputs);
    };

  layeringArgs = { compression, strategy }:
    optionalArg "--compression" compression ++ optionalArg "--strategy" strategy;

  buildLayer =
    { deps ? [ ]
    , copyToRoot ? null
    , perms ? [ ]
    , maxLayers ? 1          # layers of store paths this layer adds
    , layers ? [ ]
    , compression ? null     # gzip (stowage's default), zstd or none
    , strategy ? null        # size (default) or popularity
    , name ? "layer"
    , ...
    }@args:
    let
      roots = toList copyToRoot;
      layerCount = sum (map layerCountOf layers) + maxLayers + (if roots == [ ] then 0 else 1);
      drv = runStowage {
        name = "${name}.json";
        command = "layer";
        inherit roots layers perms;
        deps = toList deps;
        extraArgs = [ "--max-layers" (toString layerCount) ] ++ layeringArgs { inherit compression strategy; };
      };
    in
    assert unsupported "buildLayer" args [ "reproducible" "ignore" "metadata" ];
    drv // { inherit layerCount; };

  # nix2container arguments stowage has no use for fail loudly, not silently.
  unsupported = fn: args: names:
    let given = builtins.filter (n: args ? ${n} && args.${n} != null && args.${n} != true) names;
    in given == [ ] || throw "stowage: ${fn}: '${builtins.head given}' is not supported (see docs/nix.md)";

  buildImage =
    { name
    , tag ? null             # default: the output path's hash, as nix2container does
    , arch ? null            # default (also for null): pkgs.stdenv.hostPlatform.system
    , config ? { }
    , layers ? [ ]
    , copyToRoot ? null
    , deps ? [ ]
    , maxLayers ? null       # layers of store paths this image adds (default: up to stowage's 100 in all)
    , perms ? [ ]
    , compression ? null
    , strategy ? null
    , created ? null         # RFC 3339; stowage's default is 1970-01-01T00:00:01Z
    , author ? null
    , initializeNixDatabase ? false
    , nixUid ? 0
    , nixGid ? 0
    , ...
    }@args:
    let
      imageName = lower name;
      roots = toList copyToRoot;
      # What the config names (Entrypoint = [ "${fd}/bin/fd" ]) is in the image.
      configRefs = util.storePathsIn (builtins.toJSON config);
      # An upper bound of the layers of the image without the Nix database.
      plainCap = if maxLayers == null then 100
        else sum (map layerCountOf layers) + maxLayers + (if roots == [ ] then 0 else 1);
      imageArgs = [ "--arch" (if arch == null then pkgs.stdenv.hostPlatform.system else arch) "--name" imageName ]
        ++ optionalArg "--tag" tag
        ++ optionalArg "--created" created
        ++ optionalArg "--author" author
        ++ configArgs config
        ++ layeringArgs { inherit compression strategy; };
      # "127.0.0.1:5000/team/fd" -> image-fd.json; a store name has no ':' or '@'
      drvName = "image-${builtins.replaceStrings [ ":" "@" ] [ "-" "-" ] (baseNameOf imageName)}.json";

      plain = runStowage {
        name = drvName;
        command = "build";
        inherit roots layers perms;
        deps = toList deps ++ configRefs;
        extraArgs = imageArgs
          ++ (if maxLayers == null then [ ] else [ "--max-layers" (toString plainCap) ]);
      };

      # The Nix database lists the store paths of the image without it, and
      # goes on top in a layer of its own (so its ownership rules touch
      # nothing below).
      nixDb = self.mkNixDatabase { image = plain; inherit nixUid nixGid; };
      withDb = runStowage {
        name = drvName;
        command = "build";
        roots = [ nixDb ];
        layers = [ plain ];
        deps = [ ];
        perms = nixDb.perms or [ { regex = "^/nix/var/nix(/.*)?$"; uid = nixUid; gid = nixGid; } ];
        extraArgs = imageArgs ++ [ "--max-layers" (toString layerCount) ];
      };

      drv = if initializeNixDatabase then withDb else plain;
      imageTag = if tag != null then tag else util.storeHash drv.outPath;
      layerCount = plainCap + (if initializeNixDatabase then 1 else 0);
      passthru = { inherit imageName imageTag layerCount; } // self.mkImageApps {
        image = drv;
        inherit imageName imageTag;
      };
    in
    assert unsupported "buildImage" args [ "fromImage" "fromImageManifest" "reproducible" ];
    drv // passthru // { inherit passthru; meta = args.meta or { }; };
in
{
  inherit buildLayer buildImage;
}
