# mkContainerOutputs: container definitions -> flake outputs and a CI matrix.
#
#   mkContainerOutputs {
#     containerDefs = {
#       fd = { name = "fd"; packages = [ "fd" ]; entrypoint = "fd"; };
#       rg = { name = "rg"; packages = [ "ripgrep" ]; entrypoint = "rg"; targets = [ "x86_64" ]; };
#     };
#     targets = [ "x86_64" "aarch64" ];   # the default for definitions without targets
#   }
#
# gives, for each definition c and each of its targets t:
#   <c>Container-<t>   the image for t (pkgsCross.gnu64 / aarch64-multiplatform,
#                      or the caller's pkgs itself when it is for t)
#   <c>Manifest-<t>    an app releasing that image alone
#   <c>Manifest        an app releasing every target's image as one index
#   containerMatrix    { build = [ { container; target; } ... ]; manifest = [ c ... ]; }
#
# A definition may also give: tag, description, source, config (more OCI
# config), repository (where the Manifest apps publish), and mkImage
# ({ lib; pkgs; target; name; } -> image) to build something other than a
# tool container (lib: this library for the target's package set).
#
# The Manifest apps run `stowage release IMAGE.json... --repository REPO "$@"`.
# REPO is $REPOSITORY if set, else the definition's repository, else
# ${REGISTRY:-ghcr.io}/OWNER/NAME with OWNER = $IMAGE_OWNER or
# $GITHUB_REPOSITORY_OWNER, lowercased (just REGISTRY/NAME when both are
# empty). The version, tags, branch and credentials are stowage release's own
# environment: VERSION, TAGS, GITHUB_REF_NAME, GITHUB_ACTOR/GITHUB_TOKEN (or a
# docker config; docs/release-cli.md).
{ pkgs, stowage, buildPkgs, self, util, ... }:
{ containerDefs
, targets ? [ "x86_64" "aarch64" ]
}:
let
  inherit (util) concatMap escapeShellArg;

  allTargets = {
    x86_64 = { system = "x86_64-linux"; cross = "gnu64"; };
    aarch64 = { system = "aarch64-linux"; cross = "aarch64-multiplatform"; };
  };
  targetInfo = t: allTargets.${t} or (throw
    "stowage: mkContainerOutputs: target '${t}' is not one of ${toString (builtins.attrNames allTargets)}");

  # Native when the caller's pkgs is already for the target.
  pkgsFor = t:
    if pkgs.stdenv.hostPlatform.system == (targetInfo t).system then pkgs
    else pkgs.pkgsCross.${(targetInfo t).cross};
  # One library (and so one shared base layer) per target.
  libs = builtins.mapAttrs (t: _: self.forPkgs (pkgsFor t)) allTargets;

  names = builtins.attrNames containerDefs;
  defTargets = c: map (t: builtins.seq (targetInfo t) t) (containerDefs.${c}.targets or targets);

  # "ripgrep" or "python3Packages.black" -> the package of the target's set
  package = tp: c: p:
    if !builtins.isString p then p
    else builtins.foldl'
      (set: n: set.${n} or (throw "stowage: mkContainerOutputs: ${c}: no package '${p}' in pkgs"))
      tp
      (builtins.filter builtins.isString (builtins.split "\\." p));

  image = c: t:
    let
      def = containerDefs.${c};
      tp = pkgsFor t;
      name = def.name or c;
    in
    if def ? mkImage then def.mkImage { lib = libs.${t}; pkgs = tp; target = t; inherit name; }
    else libs.${t}.mkToolContainer ({
      inherit name;
      packages = map (package tp c) def.packages;
      entrypoint = def.entrypoint or name;
    } // builtins.intersectAttrs { tag = 0; description = 0; source = 0; config = 0; maxLayers = 0; } def);

  releaseApp = c: appName: images:
    let
      def = containerDefs.${c};
      name = def.name or c;
      repo = if def ? repository then escapeShellArg def.repository else ''"$registry/''${owner:+$owner/}"${escapeShellArg name}'';
      script = buildPkgs.writeShellScriptBin appName ''
        set -eu
        registry=''${REGISTRY:-ghcr.io}
        owner=''${IMAGE_OWNER:-''${GITHUB_REPOSITORY_OWNER:-}}
        owner=''${owner,,}
        repo=''${REPOSITORY:-${repo}}
        exec ${stowage}/bin/stowage release ${toString images} --repository "$repo" "$@"
      '';
    in
    script // { meta = (script.meta or { }) // { mainProgram = appName; }; };

  # images.<c>.<t>, each evaluated once
  images = builtins.listToAttrs (map
    (c: { name = c; value = builtins.listToAttrs (map (t: { name = t; value = image c t; }) (defTargets c)); })
    names);

  containers = concatMap (c: map (t: { name = "${c}Container-${t}"; value = images.${c}.${t}; }) (defTargets c)) names;
  singles = concatMap (c: map (t: { name = "${c}Manifest-${t}"; value = releaseApp c "${c}-manifest-${t}" [ images.${c}.${t} ]; }) (defTargets c)) names;
  manifests = map (c: { name = "${c}Manifest"; value = releaseApp c "${c}-manifest" (map (t: images.${c}.${t}) (defTargets c)); }) names;
in
builtins.listToAttrs (containers ++ singles ++ manifests) // {
  containerMatrix = {
    build = concatMap (c: map (t: { container = c; target = t; }) (defTargets c)) names;
    manifest = names;
  };
}
