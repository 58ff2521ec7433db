{
  description = "Container images built with stowage: tool, dev and runtime containers for amd64 and arm64";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    stowage.url = "github:stowage/stowage";
    stowage.inputs.nixpkgs.follows = "nixpkgs";
  };

  outputs = { self, nixpkgs, stowage }:
    let
      # Images are built on Linux; each system builds both targets (the
      # other one through pkgsCross), natively where it can.
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);

      containers = forSystems (system:
        (stowage.lib.forPkgs nixpkgs.legacyPackages.${system}).mkContainerOutputs {
          containerDefs = import ./containers.nix;
        });
    in
    {
      # fdContainer-x86_64, fdManifest, fdManifest-aarch64, devcontainerContainer-x86_64, ...,
      # and stowage itself (CI runs `nix run .#stowage -- verify result`)
      packages = forSystems (system:
        builtins.removeAttrs containers.${system} [ "containerMatrix" ]
        // { stowage = stowage.packages.${system}.default; });

      # what .github/workflows/containers.yaml fans out over
      containerMatrix = containers.x86_64-linux.containerMatrix;
    };
}
