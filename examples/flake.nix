{
  description = "Container images built with stowage: tool, dev and runtime containers for amd64 and arm64";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    stowage.url = "github:stowage/stowage";
    stowage.inputs.nixpkgs.follows = "nixpkgs";
  };

  outputs = { self, nixpkgs, stowage }:
    let
      # Images are built on Linux; the other target comes from pkgsCross.
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forSystem = system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          lib = stowage.lib.forPkgs pkgs;
        in
        lib.mkContainerOutputs { containerDefs = import ./containers.nix; };
      outputs = nixpkgs.lib.genAttrs systems forSystem;
    in
    {
      # fdContainer-x86_64, fdManifest, fdManifest-aarch64, devcontainerContainer-x86_64, ...
      # and stowage itself, for `nix run .#stowage -- verify result` in CI
      packages = nixpkgs.lib.mapAttrs
        (system: o: removeAttrs o [ "containerMatrix" ] // { stowage = stowage.packages.${system}.default; })
        outputs;

      # what .github/workflows/containers.yaml fans out over
      containerMatrix = outputs.x86_64-linux.containerMatrix;
    };
}
