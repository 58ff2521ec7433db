# The apps every image carries in passthru, as nix2container's do:
#
#   nix run .#fd.copyToRegistry [-- STOWAGE-PUSH-OPTIONS]   docker://NAME:TAG
#   nix run .#fd.copyToDockerDaemon [-- OPTIONS]            docker-daemon:NAME:TAG ($DOCKER_HOST)
#   nix run .#fd.copyTo -- DEST [OPTIONS]                   any of stowage copy's transports
#
# Each is a derivation with bin/<name> (and meta.mainProgram), a shell script
# running this machine's stowage on the image JSON; the arguments after `--`
# are passed on. copyToRegistry prefixes a NAME without a registry host
# ("fd", "me/fd") with $REGISTRY, and refuses to run if that is not set.
{ buildPkgs, stowage, util, ... }:
{ image, imageName, imageTag }:
let
  esc = util.escapeShellArg;
  stowageBin = "${stowage}/bin/stowage";
  app = name: text:
    let script = buildPkgs.writeShellScriptBin name ''
      set -eu
      ${text}
    '';
    in script // { meta = (script.meta or { }) // { mainProgram = name; }; };
  ref = "${imageName}:${imageTag}";
in
{
  copyToRegistry = app "copy-to-registry" ''
    name=${esc imageName}
    case $name in
    */*) first=''${name%%/*} ;;
    *) first= ;;                               # one component: never a host
    esac
    case $first in
    *.*|*:*|localhost) ;;                      # NAME starts with a registry host
    *)
      if [ -z "''${REGISTRY:-}" ]; then
        echo "copy-to-registry: the image name '$name' has no registry host: set REGISTRY (e.g. ghcr.io/me) or name the image HOST/NAME" >&2
        exit 2
      fi
      name=$REGISTRY/$name ;;
    esac
    exec ${stowageBin} push ${image} "$name":${esc imageTag} "$@"
  '';

  copyToDockerDaemon = app "copy-to-docker-daemon" ''
    exec ${stowageBin} copy ${image} docker-daemon:${esc ref} "$@"
  '';

  copyTo = app "copy-to" ''
    if [ $# -lt 1 ]; then
      echo "usage: copy-to DEST [stowage copy options] (DEST: oci:DIR[:TAG], docker://HOST/REPO:TAG, ...)" >&2
      exit 2
    fi
    exec ${stowageBin} copy ${image} "$@"
  '';
}
