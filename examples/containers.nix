# The container definitions of this example: what mkContainerOutputs turns
# into <c>Container-<t>, <c>Manifest, <c>Manifest-<t> and containerMatrix.
# Package names are nixpkgs attribute names of the target's package set.
# (stowage's tests evaluate this very file against their offline package set,
# so the example and the library cannot drift apart.)
{
  # tool containers, as in the seed configuration: the tool, bash and
  # coreutils (the last two in a base layer shared by every tool image)
  fd = { name = "fd"; packages = [ "fd" ]; entrypoint = "fd"; };
  rg = { name = "rg"; packages = [ "ripgrep" ]; entrypoint = "rg"; };

  # a dev container: user vscode, sudo, direnv, Nix with flakes and its own
  # database, Python; for amd64 only
  devcontainer = {
    name = "devcontainer";
    targets = [ "x86_64" ];
    mkImage = { lib, name, ... }: lib.mkDevContainer {
      inherit name;
      packages = with lib.packageSets; base ++ devTools ++ nixTools ++ python ++ pythonDev;
    };
  };

  # a runtime: Python and nothing of the above, user app (uid 1000) in /app
  app = {
    name = "app";
    mkImage = { lib, pkgs, name, ... }: lib.mkRuntime {
      inherit name;
      packages = lib.packageSets.python;
      extraConfig = {
        Cmd = [ "/bin/python3" "-m" "http.server" "8000" ];
        ExposedPorts = { "8000/tcp" = { }; };
      };
    };
  };
}
