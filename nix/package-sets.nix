# packageSets: lists of packages of the caller's `pkgs` (nixpkgs names) to
# compose dev and runtime images from:
#
#   mkDevContainer { name = "py-dev"; packages = with packageSets; base ++ devTools ++ nixTools ++ python ++ pythonDev; }
#   mkRuntime { name = "py"; packages = packageSets.python ++ [ app ]; }
#
# A runtime takes a language set (python, node, go, rust) without its *Dev
# set. Each list is lazy: naming a set only evaluates the packages of the
# sets an image actually uses. For a pkgsCross set the packages are the
# target's; the library's forPkgs gives the matching packageSets.
{ pkgs, ... }:
{
  # a shell and the usual command-line utilities, plus TLS certificates
  base = with pkgs; [ bashInteractive coreutils findutils gnugrep gnused gawk gnutar gzip cacert ];

  # what a developer reaches for in a dev container
  devTools = with pkgs; [ gitMinimal curl jq ripgrep fd less diffutils openssh ];

  # Nix itself and direnv with its Nix integration (`use flake` in .envrc)
  nixTools = with pkgs; [ nix direnv nix-direnv ];

  python = with pkgs; [ python3 ];
  pythonDev = with pkgs; [ python3Packages.pip python3Packages.virtualenv ruff pyright ];

  node = with pkgs; [ nodejs ];
  # top-level names: nixpkgs 26.05 removed nodePackages
  nodeDev = with pkgs; [ typescript typescript-language-server prettier ];

  go = with pkgs; [ go ];
  goDev = with pkgs; [ gopls golangci-lint delve ];

  rust = with pkgs; [ rustc cargo ];
  rustDev = with pkgs; [ rust-analyzer clippy rustfmt ];
}
