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

      # The Nix library (docs/nix.md) for a package set, cross sets too.
      mkLib = { pkgs, stowage ? stowageFor pkgs }: import ./nix { inherit pkgs stowage; };
    in
    {
      #   lib = stowage.lib.forPkgs nixpkgs.legacyPackages.x86_64-linux;
      #   lib.buildImage { ... }  lib.mkToolContainer { ... }  lib.mkContainerOutputs { ... }
      # stowage.lib.<system> is the same for nixpkgs.legacyPackages.<system>;
      # stowage.lib.mkLib { pkgs; stowage; } takes another stowage package.
      lib = forSystems (system: mkLib { pkgs = nixpkgs.legacyPackages.${system}; }) // {
        forPkgs = pkgs: mkLib { inherit pkgs; };
        inherit mkLib;
      };

      packages = forSystems (system: rec {
        stowage = stowageFor nixpkgs.legacyPackages.${system};
        default = stowage;
      });

      overlays.default = final: prev: { stowage = final.callPackage ./nix/package.nix { }; };
    };
}
