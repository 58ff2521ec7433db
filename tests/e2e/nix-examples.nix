# examples/flake.nix, evaluated as Nix would with its inputs: nixpkgs is the
# fixture package set (tests/fixtures/pkgs.nix, for both systems), stowage is
# this repository's flake.nix on the same package sets (91-nix-dev-examples.sh).
{ debDir, stowage }:
let
  nixpkgs.legacyPackages = builtins.listToAttrs (map
    (system: { name = system; value = import ../fixtures/pkgs.nix { inherit debDir stowage system; }; })
    [ "x86_64-linux" "aarch64-linux" ]);
  stowageFlake = (import ../../flake.nix).outputs { self = stowageFlake; inherit nixpkgs; };
  example = (import ../../examples/flake.nix).outputs { self = example; inherit nixpkgs; stowage = stowageFlake; };
  outputs = example.packages.x86_64-linux;
in
{
  inherit example outputs;
  # the outputs of both systems' packages, with containerMatrix as a pseudo-output
  names = builtins.attrNames outputs ++ [ "containerMatrix" ];
  namesAarch64 = builtins.attrNames example.packages.aarch64-linux;
  matrix = example.containerMatrix;
}
