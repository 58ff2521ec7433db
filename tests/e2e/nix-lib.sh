# tests/e2e/nix-lib.sh: sourced after lib.sh by the 90-nix-*.sh scripts.
# They build tests/e2e/nix-world.nix (the Nix library on the fixture package
# set, with $STOWAGE as the stowage package) with the machine's nix-build.
# Result links go in the scratch directory (GC roots while the script runs).
WORLD=$TOP/tests/e2e/nix-world.nix

# world EXTRA: the Nix expression of the world, EXTRA inside its arguments
world() { printf 'import %s { debDir = "%s"; stowage = "%s"; %s }' "$WORLD" "$TOP/build/debs" "$STOWAGE" "${1:-}"; }
# world_build ATTR OUT: nix-build ATTR of the world, result link OUT
world_build() { nix-build -E "$(world)" -A "$1" -o "$2" >/dev/null; }
# world_build_expr EXPR OUT: nix-build EXPR, in which w is the world
world_build_expr() { nix-build -E "let w = $(world); in $1" -o "$2" >/dev/null; }
# world_eval EXPR [EXTRA]: EXPR (w is the world, with EXTRA arguments) as JSON on stdout
world_eval() { nix-instantiate --eval --strict --json -E "let w = $(world "${2:-}"); in $1"; }
# world_eval_ok EXPR [EXTRA]: EXPR evaluates to true (shows what it gave if not)
world_eval_ok() {
	local got
	got=$(world_eval "$@") || return
	[ "$got" = true ] || { echo "$1 gives $got" >&2; return 1; }
}
# world_eval_fails EXPR TEXT: evaluating EXPR fails with an error mentioning TEXT
world_eval_fails() {
	local err
	if err=$(world_eval "$1" 2>&1); then echo "$1 evaluated to $err, want an error" >&2; return 1; fi
	grep -qF -- "$2" <<<"$err" || { echo "the error does not mention '$2': $(tail -c 600 <<<"$err")" >&2; return 1; }
}
# in_closure JSON: every store path the image/layer JSON names is in the closure of the JSON itself
in_closure() {
	local closure missing
	closure=$(nix-store -qR "$(readlink -f "$1")") || return
	missing=$(jq -r '.layers[].paths[].path' "$1" | grep -vxF -f <(printf '%s\n' "$closure") || true)
	[ -z "$missing" ] || { echo "not in the closure of $1: $missing" >&2; return 1; }
}
# no_path_twice JSON: no store path in two layers, no layer digest twice
no_path_twice() {
	local d
	d=$(jq -r '[.layers[].paths[].path] | group_by(.) | map(select(length > 1)[0]) | .[]' "$1")
	[ -z "$d" ] || { echo "paths in more than one layer: $d" >&2; return 1; }
	d=$(jq -r '[.layers[].digest] | group_by(.) | map(select(length > 1)[0]) | .[]' "$1")
	[ -z "$d" ] || { echo "layers twice: $d" >&2; return 1; }
}
