# mkRuntime: a production image: the packages, a non-root user, a workdir.
#
#   mkRuntime {
#     name = "api";
#     packages = with packageSets; python ++ [ myApp ];
#     user = "app";             # uid/gid 1000, home = workdir
#     workdir = "/app";         # owned by the user
#     extraConfig = { Entrypoint = [ "/bin/my-app" ]; };   # Env is appended
#   }
#
# It holds the packages (bin/ linked into /bin), the CA bundle
# (/etc/ssl/certs, SSL_CERT_FILE), /etc/passwd, group and shadow with root
# and the user, the workdir and /tmp 1777. Nothing else: no shell, sudo,
# direnv, Nix or Nix database unless `packages` names them.
# Config: User "1000:1000" (numeric, so a runtime can tell it is not root
# without reading /etc/passwd: Kubernetes' runAsNonRoot needs that),
# WorkingDir = workdir.
{ pkgs, self, util, ... }@args:
{ name
, packages ? [ ]
, user ? "app"
, workdir ? "/app"
, extraConfig ? { }
, tag ? "latest"
, maxLayers ? 49             # store-path layers; + the root tree = 50
, arch ? null
, ...
}@a:
let
  mkRootTree = import ./root-tree.nix args;

  uid = 1000;
  gid = 1000;
  bundle = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";

  env = pkgs.buildEnv {
    name = "${baseNameOf name}-env";
    paths = util.unique packages;
    pathsToLink = [ "/bin" ];
  };

  tree = mkRootTree {
    name = "${baseNameOf name}-root";
    files = import ./accounts.nix { inherit user uid gid; home = workdir; shell = "/bin/sh"; } // {
      "/etc/nsswitch.conf" = { text = ''
        passwd: files
        group: files
        hosts: files dns
      ''; };
    };
    dirs = {
      "/tmp" = { mode = "1777"; };
      ${workdir} = { inherit uid gid; };
    };
    links = {
      "/etc/ssl/certs/ca-bundle.crt" = bundle;
      "/etc/ssl/certs/ca-certificates.crt" = bundle;
    };
  };

  config = {
    User = "${toString uid}:${toString gid}";
    WorkingDir = workdir;
    Env = [
      "HOME=${workdir}"
      "USER=${user}"
      "PATH=/bin"
      "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"
    ];
  };
  mergedConfig = config // extraConfig
    // (if extraConfig ? Env then { Env = config.Env ++ extraConfig.Env; } else { });
in
self.buildImage ({
  inherit name tag maxLayers;
  # a caller's own copyToRoot and perms come on top (later perm rules win)
  copyToRoot = [ env tree.root ] ++ util.toList (a.copyToRoot or null);
  perms = tree.perms ++ (a.perms or [ ]);
  config = mergedConfig;
} // (if arch == null then { } else { inherit arch; })
  // builtins.removeAttrs a [ "name" "packages" "user" "workdir" "extraConfig" "tag" "maxLayers" "arch" "copyToRoot" "perms" ])
// { inherit env; rootTree = tree.root; }
