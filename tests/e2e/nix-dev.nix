# The images 91-nix-dev.sh builds: a dev container and a runtime from the
# fixture package set (tests/fixtures/pkgs.nix) with the stowage under test.
#   nix-build tests/e2e/nix-dev.nix --argstr debDir ... --argstr stowage ... -A dev
{ debDir, stowage, arch ? "amd64" }:
let
  host = import ../fixtures/pkgs.nix { inherit debDir stowage; };
  pkgs = { amd64 = host.pkgsCross.gnu64; arm64 = host.pkgsCross.aarch64-multiplatform; }.${arch};
  lib = import ../../nix { pkgs = host; };
  libFor = lib.forPkgs pkgs;
in
rec {
  dev = libFor.mkDevContainer {
    name = "devbox";
    # nix is Debian's nix-bin on amd64, a stub on arm64 (tests/fixtures/dev-pkgs.nix)
    packages = [ pkgs.fd pkgs.ripgrep pkgs.nix ];
  };
  runtime = libFor.mkRuntime {
    name = "app";
    packages = [ pkgs.busybox pkgs.ripgrep ];
    extraConfig = { Entrypoint = [ "/bin/rg" ]; Env = [ "RUST_LOG=info" ]; };
  };
  # every package set: [ { name; kind = fixture | host | stub; } ... ]
  sets = builtins.mapAttrs (_: map (p: {
    name = p.name;
    kind = if p.meta.fixtureStub or false then "stub" else if p.meta.hostTool or false then "host" else "fixture";
  })) libFor.packageSets;
  setPaths = builtins.mapAttrs (_: map (p: p.outPath)) libFor.packageSets;
}
