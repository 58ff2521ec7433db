# The start every bench script shares, sourced first with BENCH set to the
# script's name in messages: strict mode, die/say, the repository root as
# the working directory, and the environment every script reads.
set -euo pipefail

die() { echo "$BENCH: error: $*" >&2; exit 1; }
say() { echo "$BENCH: $*" >&2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

stowage=${STOWAGE:-build/stowage}
limit=${LIMIT:-900}
runs=${RUNS:-5}
[[ $runs =~ ^[0-9]+$ ]] || die "RUNS must be a number, not '$runs'"

# clamp NAME MIN MAX: the variable NAME held to MIN..MAX
clamp() {
  local -n v=$1
  ((v < $2)) && v=$2
  ((v > $3)) && v=$3
  return 0
}

# percent NAME VALUE: VALUE must be a positive integer (a closure's scale)
percent() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer (percent), not '$2'"; }

need_stowage() { [ -x "$stowage" ] || die "$stowage not found (run make)"; }
