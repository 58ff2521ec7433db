{
  description = "stowage: OCI images from Nix store closures, for one architecture or many, without Docker";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);

      # stowage runs where images are built: the package set's buildPackages.
      stowageFor = pkgs: (pkgs.buildPackages or pkgs).stowage
        or ((pkgs.buildPackages or pkgs).callPackage ./nix/package.nix { });

      # The Nix library (docs/nix.md) for any package set, cross sets too:
      #   lib = stowage.mkLib { pkgs = nixpkgs.legacyPackages.x86_64-linux; };
      mkLib = { pkgs, stowage ? stowageFor pkgs }: import ./nix { inherit pkgs stowage; };
    in
    {
      inherit mkLib;

      # stowage.lib.<system>.buildImage, .mkToolContainer, .mkContainerOutputs, ...
      lib = forSystems (system: mkLib { pkgs = nixpkgs.legacyPackages.${system}; });

      packages = forSystems (system: rec {
        stowage = stowageFor nixpkgs.legacyPackages.${system};
        default = stowage;
      });

      overlays.default = final: prev: { stowage = final.callPackage ./nix/package.nix { }; };
    };
}
