# What the tests/e2e/90-nix-*.sh scripts build: the stowage Nix library on
# the fixture package set (tests/fixtures/pkgs.nix), the fd and rg tool
# containers of the seed configuration as container definitions, and a chain
# of layers.
#
#   nix-build tests/e2e/nix-world.nix --arg debDir "$TOP/build/debs" \
#     --arg stowage "$STOWAGE" -A outputs.fdContainer-aarch64
#
# extraDefs: more container definitions (the matrix test adds one).
{ debDir, stowage, extraDefs ? { }, chainDepth ? 20 }:
let
  pkgs = import ../fixtures/pkgs.nix { inherit debDir stowage; };
  lib = import ../../nix { inherit pkgs; };

  # As in the seed configuration (vanixiets modules/containers).
  containerDefs = {
    fd = { name = "fd"; packages = [ "fd" ]; entrypoint = "fd"; };
    rg = { name = "rg"; packages = [ "ripgrep" ]; entrypoint = "rg"; };
  } // extraDefs;

  # chainDepth store paths, each referring to the one before (so each closure
  # holds all earlier ones), and one buildLayer per path on the layer of the
  # path before: every layer must hold exactly its own path.
  links = builtins.genList
    (i: pkgs.writeText "chain-link-${toString i}"
      (if i == 0 then "link 0\n" else "link ${toString i} after ${builtins.elemAt links (i - 1)}\n"))
    chainDepth;
  layers = builtins.genList
    (i: lib.buildLayer {
      name = "chain-layer-${toString i}";
      deps = [ (builtins.elemAt links i) ];
      layers = if i == 0 then [ ] else [ (builtins.elemAt layers (i - 1)) ];
    })
    chainDepth;
  top = builtins.elemAt layers (chainDepth - 1);
in
{
  inherit pkgs lib containerDefs;
  outputs = lib.mkContainerOutputs { inherit containerDefs; };

  chain = {
    inherit top links;
    # every layer's derivation arguments, to show they do not grow with depth
    argCounts = map (l: builtins.length l.drvAttrs.args) layers;
    # an image on the top of the chain and, again, on a layer inside it
    image = lib.buildImage {
      name = "chain";
      layers = [ top (builtins.elemAt layers (chainDepth / 2)) ];
      copyToRoot = pkgs.buildEnv { name = "chain-root"; paths = [ pkgs.busybox ]; pathsToLink = [ "/bin" ]; };
      config.Entrypoint = [ "/bin/busybox" ];
    };
  };
}
