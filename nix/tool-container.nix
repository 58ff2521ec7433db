# mkToolContainer: one tool + bash + coreutils, entrypoint the tool.
#
# bash and coreutils sit in one base layer (a buildLayer of this package set)
# that every tool image of the set reuses byte for byte; the tool's closure
# minus what the base holds goes in the layers above; /bin links (a buildEnv
# of the tool, bash and coreutils) are the copy-to-root tree on top.
{ pkgs, self, ... }:
let
  baseLayer = self.buildLayer {
    name = "tool-base-layer";
    deps = [ pkgs.bashInteractive pkgs.coreutils ];
  };
in
{ name
, package ? null
, packages ? [ package ]       # several tools in one image: packages = [ a b ];
, entrypoint ? name           # a program in /bin
, tag ? "latest"
, description ? (builtins.head packages).meta.description or "${name} in a container"
, source ? (builtins.head packages).meta.homepage or null
, config ? { }                # more OCI config, merged over the defaults
, maxLayers ? 2               # store-path layers above the base (the copy-to-root layer is extra)
, ...
}@args:
assert packages != [ null ] || throw "stowage: mkToolContainer ${name}: give package or packages";
self.buildImage ({
  inherit name tag maxLayers;
  layers = [ baseLayer ];
  copyToRoot = pkgs.buildEnv {
    name = "${name}-root";
    paths = packages ++ [ pkgs.bashInteractive pkgs.coreutils ];
    pathsToLink = [ "/bin" ];
    ignoreCollisions = true;   # the first wins: the tool's own sh, say, over bash's
  };
  config = {
    Entrypoint = [ "/bin/${entrypoint}" ];
    Env = [ "PATH=/bin" ];
    Labels = { "org.opencontainers.image.description" = description; }
      // (if source == null then { } else { "org.opencontainers.image.source" = source; });
  } // config;
} // builtins.removeAttrs args [ "package" "packages" "entrypoint" "description" "source" "config" "name" "tag" "maxLayers" ])
// { inherit baseLayer; }
