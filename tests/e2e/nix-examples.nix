# examples/containers.nix through mkContainerOutputs, as examples/flake.nix
# does with nixpkgs, but on the fixture package set (91-nix-dev-examples.sh).
{ debDir, stowage }:
let
  pkgs = import ../fixtures/pkgs.nix { inherit debDir stowage; };
  lib = import ../../nix { inherit pkgs; };
  outputs = lib.mkContainerOutputs { containerDefs = import ../../examples/containers.nix; };
in
{
  inherit outputs;
  names = builtins.attrNames outputs;
  matrix = outputs.containerMatrix;
}
