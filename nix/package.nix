# stowage built from this source tree with nixpkgs' stdenv (the flake's
# packages.<system>.stowage). The Makefile finds its libraries through
# pkg-config; `nix path-info` (for store paths given on the command line) is
# the user's own nix, as for nix-store.
{ lib, stdenv, pkg-config, curl, openssl, jansson, zlib, zstd }:
stdenv.mkDerivation {
  pname = "stowage";
  version = "0.1.0";

  # only what the build reads: the Makefile, include/, lib/, src/
  src = builtins.path {
    name = "stowage-source";
    path = ./..;
    filter = path: type:
      let
        rel = builtins.substring (builtins.stringLength (toString ./..) + 1) (-1) (toString path);
        top = builtins.head (builtins.split "/" rel);
      in
      rel == "Makefile" || builtins.elem top [ "include" "lib" "src" ];
  };

  nativeBuildInputs = [ pkg-config ];
  buildInputs = [ curl openssl jansson zlib zstd ];

  makeFlags = [ "CC=${stdenv.cc.targetPrefix}cc" ];
  enableParallelBuilding = true;

  installPhase = ''
    runHook preInstall
    install -Dm755 build/stowage $out/bin/stowage
    runHook postInstall
  '';

  meta = {
    description = "OCI container images from Nix store closures, multi-arch, pushed incrementally";
    mainProgram = "stowage";
    platforms = lib.platforms.linux;
  };
}
