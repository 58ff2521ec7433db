# A copy-to-root tree (files, directories, symlinks) and the perm rules that
# give its entries their modes and owners in the image: a store path cannot
# hold setuid bits, owners or writable modes, so stowage sets them
# (--perm) while it writes the layer. Used by mkDevContainer and mkRuntime.
#
#   mkRootTree {
#     name = "dev-root";
#     files = { "/etc/passwd" = { text = "..."; mode = "0644"; }; };     # uid/gid default 0
#     dirs = { "/tmp" = { mode = "1777"; }; "/home/vscode" = { uid = 1000; gid = 1000; }; };
#     links = { "/usr/bin/env" = "${coreutils}/bin/env"; };
#   }
#   -> { root = <derivation>; perms = [ { regex; mode; uid; gid; } ... ]; }
#
# Every parent directory of a file or link is created too and, like the
# directories named in `dirs`, is 0755 root unless given otherwise.
{ pkgs, util, ... }:
{ name, files ? { }, dirs ? { }, links ? { } }:
let
  inherit (util) unique concatMap;

  # "/a/b/c" -> [ "/a" "/a/b" ]
  parentsOf = path:
    let
      parts = builtins.filter (p: builtins.isString p && p != "") (builtins.split "/" path);
      n = builtins.length parts;
    in builtins.genList
      (i: "/" + builtins.concatStringsSep "/" (builtins.genList (j: builtins.elemAt parts j) (i + 1)))
      (n - 1);

  allDirs = unique (builtins.attrNames dirs
    ++ concatMap parentsOf (builtins.attrNames files ++ builtins.attrNames links ++ builtins.attrNames dirs));

  # Store names may hold . + ? which are special in a regex.
  escapeRegex = builtins.replaceStrings
    [ "." "+" "?" "*" "(" ")" "[" "]" "{" "}" "|" "^" "$" "\\" ]
    [ "\\." "\\+" "\\?" "\\*" "\\(" "\\)" "\\[" "\\]" "\\{" "\\}" "\\|" "\\^" "\\$" "\\\\" ];
  rule = path: attrs: default: {
    regex = "^${escapeRegex path}$";
    mode = attrs.mode or default;
    uid = attrs.uid or 0;
    gid = attrs.gid or 0;
  };

  # One shell line per entry; the contents travel as environment variables
  # (file_0, file_1, ...), so any text is safe.
  fileNames = builtins.attrNames files;
  fileVars = builtins.listToAttrs (util.imap
    (i: p: { name = "file_${toString i}"; value = files.${p}.text; }) fileNames);
  script = builtins.concatStringsSep "\n" (
    map (d: "mkdir -p \"$out${d}\"") allDirs
    ++ util.imap (i: p: "printf '%s' \"$file_${toString i}\" > \"$out${p}\"") fileNames
    ++ map (l: "ln -s ${util.escapeShellArg links.${l}} \"$out${l}\"") (builtins.attrNames links));

  root = pkgs.runCommand name fileVars ''
    set -eu
    mkdir -p $out
    ${script}
  '';
in
{
  inherit root escapeRegex;
  perms =
    map (d: rule d (dirs.${d} or { }) "0755") allDirs
    ++ map (p: rule p files.${p} "0644") fileNames;
}
