#!/usr/bin/env bash
# examples/ and .github/workflows/containers.yaml stay in step with the
# library: examples/flake.nix is evaluated with the fixture package set as
# nixpkgs and this repository's flake.nix as stowage (tests/e2e/
# nix-examples.nix), its images build, and every flake attribute the workflow
# names for a containerMatrix entry is an output (and the reverse).
. "$(dirname "$0")/lib.sh"

EXPR=$TOP/tests/e2e/nix-examples.nix
WF=$TOP/.github/workflows/containers.yaml
nixi() { nix-instantiate "$EXPR" --argstr debDir "$TOP/build/debs" --argstr stowage "$STOWAGE" "$@"; }
nixb() { nix-build "$EXPR" --argstr debDir "$TOP/build/debs" --argstr stowage "$STOWAGE" "$@"; }

expect_success "examples/flake.nix evaluates with nixpkgs = the fixture set and stowage = this flake" eval '
	nix-instantiate --parse "$TOP/examples/flake.nix" >/dev/null &&
	nixi --eval --strict --json -A names >"$SCRATCH/names.json" &&
	nixi --eval --strict --json -A namesAarch64 >"$SCRATCH/names-aarch64.json" &&
	same "$(jq -c "sort - [\"containerMatrix\"]" "$SCRATCH/names.json")" "$(jq -c sort "$SCRATCH/names-aarch64.json")" &&
	same "$(nixi --eval -A outputs.stowage.name)" "\"stowage\""'
expect_success "the example's containerMatrix: every definition x its targets" eval '
	nixi --eval --strict --json -A matrix >"$SCRATCH/matrix.json" &&
	same "$(jq -c "[.build[] | .container + \"-\" + .target] | sort" "$SCRATCH/matrix.json")" \
		"[\"app-aarch64\",\"app-x86_64\",\"devcontainer-x86_64\",\"fd-aarch64\",\"fd-x86_64\",\"rg-aarch64\",\"rg-x86_64\"]" &&
	same "$(jq -c .manifest "$SCRATCH/matrix.json")" "[\"app\",\"devcontainer\",\"fd\",\"rg\"]"'
expect_success "every output of the example instantiates" eval '
	for n in $(jq -r ".[] | select(. != \"containerMatrix\")" "$SCRATCH/names.json"); do
		nixi -A "outputs.$n" >/dev/null || { echo "outputs.$n does not instantiate" >&2; exit 1; }
	done'
LIMIT=300 expect_success "the example's dev container (x86_64) and runtime (aarch64) build" eval '
	nixb -A outputs.devcontainerContainer-x86_64 -o "$SCRATCH/dev" && nixb -A outputs.appContainer-aarch64 -o "$SCRATCH/app"' 
expect_success "they are a dev container (with nixTools: direnvrc sources nix-direnv) and a runtime" eval '
	same "$(jq -c "[.config.architecture, .config.config.User, .config.config.WorkingDir]" "$SCRATCH/dev")" "[\"amd64\",\"1000:1000\",\"/workspace\"]" &&
	jq -e "[.layers[].paths[].path] | any(test(\"-nix-database$\"))" "$SCRATCH/dev" >/dev/null &&
	root=$(jq -r ".layers[].paths[] | select(.rewrite) | .path | select(endswith(\"-devcontainer-root\"))" "$SCRATCH/dev") &&
	grep -E "^source /nix/store/[a-z0-9]{32}-nix-direnv-[^/]*/share/nix-direnv/direnvrc$" "$root/home/vscode/.config/direnv/direnvrc" >/dev/null &&
	same "$(jq -c "[.config.architecture, .config.config.User, .config.config.WorkingDir, .config.config.Cmd[0]]" "$SCRATCH/app")" "[\"arm64\",\"1000:1000\",\"/app\",\"/bin/python3\"]"'

# The workflow, read with a YAML parser: what it evaluates, how it fans out,
# and the flake attributes it builds and runs for each matrix entry.
check_workflow() {
	/usr/bin/python3 - "$WF" "$SCRATCH/matrix.json" "$SCRATCH/names.json" <<'PY'
import json, re, sys, yaml
wf = yaml.safe_load(open(sys.argv[1]))
matrix = json.load(open(sys.argv[2]))
outputs = set(json.load(open(sys.argv[3]))) - {"containerMatrix", "stowage"}
jobs = wf["jobs"]
errors = []
def need(cond, what):
    if not cond: errors.append(what)
def runs(job):
    return "\n".join(s.get("run", "") for s in jobs[job]["steps"])

need(wf.get("env", {}).get("FLAKE") == "./examples", "env FLAKE is not ./examples")
d = runs("discover")
need("#containerMatrix.build" in d and "#containerMatrix.manifest" in d, "discover does not evaluate containerMatrix.build and .manifest")
need(jobs["discover"]["outputs"] == {"build": "${{ steps.matrix.outputs.build }}", "manifest": "${{ steps.matrix.outputs.manifest }}"},
     "discover's outputs are not the matrix step's build and manifest")
need(jobs["build"]["strategy"]["matrix"] == {"include": "${{ fromJSON(needs.discover.outputs.build) }}"},
     "build does not fan out over containerMatrix.build")
need(jobs["release"]["strategy"]["matrix"] == {"container": "${{ fromJSON(needs.discover.outputs.manifest) }}"},
     "release does not fan out over containerMatrix.manifest")
need(set(jobs["release"]["needs"]) == {"discover", "build"}, "release does not wait for build")

def attrs(job):  # the flake attributes a job names, as templates
    return re.findall(r'#(\$\{\{ matrix\.container \}\}[A-Za-z]+(?:-\$\{\{ matrix\.target \}\})?)"', runs(job))
def fill(t, c, tgt=""):
    return t.replace("${{ matrix.container }}", c).replace("${{ matrix.target }}", tgt)

built = {fill(t, e["container"], e["target"]) for e in matrix["build"] for t in attrs("build")}
released = {fill(t, c) for c in matrix["manifest"] for t in attrs("release")}
need(attrs("build") == ["${{ matrix.container }}Container-${{ matrix.target }}"], "build names %s" % attrs("build"))
need(attrs("release") == ["${{ matrix.container }}Manifest"], "release names %s" % attrs("release"))
need(built <= outputs and released <= outputs, "the workflow names attributes that are not outputs: %s" % sorted((built | released) - outputs))
need(built == {o for o in outputs if re.fullmatch(r"\w+Container-\w+", o)}, "some image output is never built by the workflow")
need(released == {o for o in outputs if o.endswith("Manifest")}, "some Manifest app is never run by the workflow")
arch = [s["run"] for s in jobs["build"]["steps"] if s.get("name") == "architecture"]
need(arch and all(f"{t}) echo" in arch[0] for t in {e["target"] for e in matrix["build"]}), "the architecture step does not know every target")
need(any('"$FLAKE#stowage" -- verify result' in s.get("run", "") for s in jobs["build"]["steps"]),
     "build does not run the flake's stowage verify (the example re-exports packages.<system>.stowage)")
rel = [s for s in jobs["release"]["steps"] if "Manifest" in s.get("run", "")]
need(rel and {"VERSION", "TAGS", "GITHUB_TOKEN", "GITHUB_ACTOR"} <= set(rel[0].get("env", {})), "release does not pass VERSION, TAGS and the credentials")
need(jobs["release"].get("permissions", {}).get("packages") == "write", "release cannot write packages")
for e in errors: print(e, file=sys.stderr)
print("%d build jobs, %d release jobs" % (len(built), len(released)))
sys.exit(1 if errors else 0)
PY
}
expect_success "the workflow builds <c>Container-<t> per containerMatrix.build entry and runs <c>Manifest per container, nothing else" check_workflow
echo "# workflow: $(cat "$OUT" 2>/dev/null)"
done_testing
