# mkDevContainer: a development container (VS Code dev containers, CI jobs
# that run `nix develop`).
#
#   mkDevContainer {
#     name = "devcontainer";
#     packages = with packageSets; base ++ devTools ++ nixTools ++ python;
#     user = "vscode";          # uid/gid 1000, home /home/<user>
#     extraConfig = { };        # OCI config merged over the defaults (Env is appended)
#   }
#
# What it holds besides `packages` (their bin/ linked into /bin):
# - bash, coreutils, sudo, direnv and the CA bundle, always;
# - /etc/passwd, group, shadow (root and the user, no passwords), sudoers
#   (the user may run anything without a password), sudo.conf and
#   pam.d/sudo pointing at the store (sudo and PAM come from the store, not
#   from /usr), nsswitch.conf, os-release;
# - /etc/nix/nix.conf: flakes on, single-user (no build users, no sandbox:
#   containers do not have the namespaces);
# - /home/<user>/.bashrc with the direnv hook (and, when nix-direnv is among
#   the packages, ~/.config/direnv/direnvrc sourcing it), /workspace, the user's;
#   /tmp 1777; /usr/bin/env; /etc/ssl/certs/{ca-bundle,ca-certificates}.crt
#   and SSL_CERT_FILE / NIX_SSL_CERT_FILE;
# - a Nix database of the image's own store paths (mkNixDatabase), with
#   /nix/store and /nix/var/nix owned by the user, so `nix` run by the user
#   knows what is installed and can add to it;
# - sudo's bin/sudo setuid root (a perm rule: store paths cannot be setuid).
#
# Config: User "1000:1000" (numeric: runtimes can check it is not root
# without reading /etc/passwd), WorkingDir /workspace, Cmd [ /bin/bash ].
{ pkgs, self, util, ... }@args:
{ name
, packages ? [ ]
, user ? "vscode"
, extraConfig ? { }
, tag ? "latest"
, maxLayers ? 98             # store-path layers; + the root tree and the Nix database = 100
, arch ? null
, ...
}@a:
let
  inherit (util) unique;
  mkRootTree = import ./root-tree.nix args;

  uid = 1000;
  gid = 1000;
  home = "/home/${user}";
  shell = "/bin/bash";
  owned = { inherit uid gid; };
  bundle = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";
  pam = pkgs.linux-pam or pkgs.pam;
  essentials = [ pkgs.bashInteractive pkgs.coreutils pkgs.sudo pkgs.direnv pkgs.cacert ];

  env = pkgs.buildEnv {
    name = "${baseNameOf name}-env";
    paths = unique (essentials ++ packages);
    pathsToLink = [ "/bin" ];
  };

  # nix-direnv among the packages: direnv's `use flake` / `use nix` come from it
  nixDirenv = builtins.filter (p: (p.pname or "") == "nix-direnv") packages;
  direnvrc =
    if nixDirenv == [ ] then { }
    else {
      "${home}/.config/direnv/direnvrc" = owned // {
        text = "source ${builtins.head nixDirenv}/share/nix-direnv/direnvrc\n";
      };
    };

  nixConf = ''
    experimental-features = nix-command flakes
    build-users-group =
    sandbox = false
  '';

  tree = mkRootTree {
    name = "${baseNameOf name}-root";
    files = import ./accounts.nix {
      inherit user uid gid home shell;
      groupLines = "wheel:x:10:${user}\n";
    } // {
      "/etc/sudoers" = { mode = "0440"; text = ''
        Defaults !lecture, !fqdn, env_keep += "SSL_CERT_FILE NIX_SSL_CERT_FILE"
        root ALL=(ALL:ALL) ALL
        ${user} ALL=(ALL:ALL) NOPASSWD: ALL
      ''; };
      # sudo and PAM are in the store: name their plugin and modules there.
      "/etc/sudo.conf" = { text = ''
        Plugin sudoers_policy ${pkgs.sudo}/libexec/sudo/sudoers.so
        Plugin sudoers_io ${pkgs.sudo}/libexec/sudo/sudoers.so
      ''; };
      "/etc/pam.d/sudo" = { text = ''
        auth     sufficient ${pam}/lib/security/pam_permit.so
        account  sufficient ${pam}/lib/security/pam_permit.so
        session  sufficient ${pam}/lib/security/pam_permit.so
        password required   ${pam}/lib/security/pam_deny.so
      ''; };
      "/etc/nsswitch.conf" = { text = ''
        passwd: files
        group: files
        shadow: files
        hosts: files dns
      ''; };
      "/etc/os-release" = { text = ''
        ID=nixos
        NAME="NixOS"
      ''; };
      "/etc/nix/nix.conf" = { text = nixConf; };
      "${home}/.bashrc" = owned // { text = ''
        # direnv: load .envrc files when entering a directory
        eval "$(direnv hook bash)"
      ''; };
      "${home}/.config/nix/nix.conf" = owned // { text = nixConf; };
    } // direnvrc;
    dirs = {
      "/tmp" = { mode = "1777"; };
      "/root" = { mode = "0700"; };
      "/run" = { };
      "/workspace" = owned;
      ${home} = owned;
      "${home}/.config" = owned;
      "${home}/.config/nix" = owned;
    } // (if nixDirenv == [ ] then { } else {
      "${home}/.config/direnv" = owned;
    });
    links = {
      "/usr/bin/env" = "${pkgs.coreutils}/bin/env";
      "/etc/ssl/certs/ca-bundle.crt" = bundle;
      "/etc/ssl/certs/ca-certificates.crt" = bundle;
    };
  };

  setuidSudo = {
    regex = "^${tree.escapeRegex "${pkgs.sudo}"}/bin/sudo$";
    mode = "4755"; uid = 0; gid = 0;
  };

  config = {
    User = "${toString uid}:${toString gid}";
    WorkingDir = "/workspace";
    Cmd = [ shell ];
    Env = [
      "HOME=${home}"
      "USER=${user}"
      "PATH=${home}/.nix-profile/bin:/nix/var/nix/profiles/default/bin:/bin:/usr/bin"
      "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"
      "NIX_SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"
    ];
    Labels = { "org.opencontainers.image.description" = "${baseNameOf name} development container"; };
  };
  # Env is appended (a later K=V wins in the runtime); every other key replaces.
  mergedConfig = config // extraConfig
    // (if extraConfig ? Env then { Env = config.Env ++ extraConfig.Env; } else { });
in
self.buildImage ({
  inherit name tag maxLayers;
  # a caller's own copyToRoot and perms come on top (later perm rules win)
  copyToRoot = [ env tree.root ] ++ util.toList (a.copyToRoot or null);
  perms = tree.perms ++ [ setuidSudo ] ++ (a.perms or [ ]);
  config = mergedConfig;
  initializeNixDatabase = true;
  nixUid = uid;
  nixGid = gid;
} // (if arch == null then { } else { inherit arch; })
  // builtins.removeAttrs a [ "name" "packages" "user" "extraConfig" "tag" "maxLayers" "arch" "copyToRoot" "perms" ])
// { inherit env; rootTree = tree.root; }
