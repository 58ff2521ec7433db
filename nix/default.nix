# The stowage Nix library:
#
#   stowageLib = import ./nix { inherit pkgs; stowage = <stowage package>; };
#   stowageLib.buildImage { name = "fd"; copyToRoot = ...; config = ...; }
#
# pkgs is the package set the images are made of (it may be a pkgsCross set);
# stowage is the stowage package of the machine that builds (it is the
# builder of every layer and image derivation, and what the apps run).
# buildPkgs (default pkgs.buildPackages) provides the apps' shell scripts.
# What the library uses from pkgs is listed in docs/nix.md.
#
# Every file gets the same argument set and returns one function (or, for
# package-sets.nix, an attribute set); `self` is the whole library, so the
# files can use each other.
{ pkgs
, stowage ? (pkgs.buildPackages or pkgs).stowage   # it runs on the machine that builds
, buildPkgs ? pkgs.buildPackages or pkgs
}:
let
  args = { inherit pkgs stowage buildPkgs self util; };
  util = import ./util.nix;
  build = import ./build.nix args;

  self = {
    # Derivations whose output is stowage's layer / image JSON (nix/build.nix).
    inherit (build) buildLayer buildImage;

    # The apps every image carries in passthru (nix/apps.nix):
    # image -> { copyToRegistry; copyToDockerDaemon; copyTo; }.
    mkImageApps = import ./apps.nix args;

    # A tool image on the shared bash + coreutils base layer.
    mkToolContainer = import ./tool-container.nix args;

    # containerDefs -> <c>Container-<t>, <c>Manifest, <c>Manifest-<t>, containerMatrix.
    mkContainerOutputs = import ./container-outputs.nix args;

    # Dev and runtime images and the package sets they are made of.
    mkDevContainer = import ./dev-container.nix args;
    mkRuntime = import ./runtime.nix args;
    packageSets = import ./package-sets.nix args;

    # A reproducible Nix database for an image's closure (buildImage's
    # initializeNixDatabase): { paths; nixUid ? 0; nixGid ? 0; } -> a
    # copy-to-root tree holding /nix/var/nix/db (see docs/nix.md).
    mkNixDatabase =
      if builtins.pathExists ./nix-db.nix then import ./nix-db.nix args
      else _: throw "stowage: initializeNixDatabase needs nix/nix-db.nix, which is not there";

    # The same library for another package set (a pkgsCross set, say),
    # with this stowage and this machine's buildPkgs.
    forPkgs = p: import ./. { pkgs = p; inherit stowage buildPkgs; };
  };
in
self
