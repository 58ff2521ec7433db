# Small helpers on builtins only, so the library asks nothing of `pkgs.lib`
# (the surface it needs from pkgs is listed in docs/nix.md).
rec {
  toList = x: if x == null then [ ] else if builtins.isList x then x else [ x ];

  # map with the 0-based index
  imap = f: list: builtins.genList (i: f i (builtins.elemAt list i)) (builtins.length list);

  concatMap = f: list: builtins.concatLists (map f list);

  sum = builtins.foldl' (a: b: a + b) 0;

  unique = list: builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ] list;

  mapAttrsToList = f: attrs: map (n: f n attrs.${n}) (builtins.attrNames attrs);

  lower = builtins.replaceStrings upperChars lowerChars;
  upperChars = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ];
  lowerChars = [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];

  # A single-quoted shell word.
  escapeShellArg = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
  escapeShellArgs = list: builtins.concatStringsSep " " (map escapeShellArg list);

  # The store paths a string mentions, each as a substring of it so that it
  # keeps its context (regex results lose it). Used to give an image the
  # closure of what its config names, e.g. Entrypoint = [ "${fd}/bin/fd" ].
  storePathsIn = s:
    let
      parts = builtins.split "(${builtins.storeDir}/[0-9a-z]{32}-[-+._?=0-9A-Za-z]+)" s;
      step = acc: part:
        if builtins.isString part then acc // { pos = acc.pos + builtins.stringLength part; }
        else let len = builtins.stringLength (builtins.head part); in {
          pos = acc.pos + len;
          found = acc.found ++ [ (builtins.substring acc.pos len s) ];
        };
    # a path typed as a plain string names nothing Nix built: left alone
    in unique (builtins.filter builtins.hasContext (builtins.foldl' step { pos = 0; found = [ ]; } parts).found);

  # "/nix/store/<hash>-name" -> "<hash>"
  storeHash = p: builtins.substring 0 32 (builtins.baseNameOf (builtins.unsafeDiscardStringContext (toString p)));
}
