#!/usr/bin/env bash
# mkContainerOutputs (nix/container-outputs.nix): the outputs and the CI
# matrix are exactly the definitions x their targets; adding a definition
# adds its outputs and matrix entries and changes nothing else (every
# existing output keeps its derivation); the matrix evaluates without
# instantiating any derivation; a definition's own targets, the targets
# argument, mkImage, and the errors for an unknown target or package.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"   # jq_ok, equals (no registry is started)
. "$(dirname "$0")/nix-lib.sh"
cd "$SCRATCH" || exit 1

# A definition as a user adds it: busybox, for aarch64 only.
BB='extraDefs = { bb = { name = "busybox"; packages = [ "busybox" ]; entrypoint = "busybox"; targets = [ "aarch64" ]; }; };'

expect_success "containerMatrix evaluates (nix-instantiate --eval --json --strict)" \
	eval 'world_eval w.outputs.containerMatrix >matrix.json'
expect_success "containerMatrix.build: exactly fd and rg x x86_64 and aarch64" jq_ok matrix.json \
	'.build == [{container: "fd", target: "x86_64"}, {container: "fd", target: "aarch64"},
	            {container: "rg", target: "x86_64"}, {container: "rg", target: "aarch64"}]'
expect_success "containerMatrix.manifest: [fd, rg]" jq_ok matrix.json '.manifest == ["fd", "rg"]'
expect_success "containerMatrix has nothing else" jq_ok matrix.json 'keys == ["build", "manifest"]'
expect_success "the matrix evaluates in --readonly-mode (no derivation is instantiated)" \
	nix-instantiate --readonly-mode --eval --strict --json -E "($(world)).outputs.containerMatrix"
expect_success "the outputs: <c>Container-<t>, <c>Manifest-<t>, <c>Manifest, containerMatrix" \
	eval 'world_eval "builtins.attrNames w.outputs" >names.json && jq_ok names.json ". == [\"containerMatrix\",
		\"fdContainer-aarch64\", \"fdContainer-x86_64\", \"fdManifest\", \"fdManifest-aarch64\", \"fdManifest-x86_64\",
		\"rgContainer-aarch64\", \"rgContainer-x86_64\", \"rgManifest\", \"rgManifest-aarch64\", \"rgManifest-x86_64\"]"'
expect_success "every output but containerMatrix is a derivation" \
	world_eval_ok 'builtins.all (n: n == "containerMatrix" || w.outputs.${n}.type or "" == "derivation") (builtins.attrNames w.outputs)'
expect_success "every build entry names an output, every manifest entry its <c>Manifest" \
	world_eval_ok 'builtins.all (e: w.outputs ? "${e.container}Container-${e.target}") w.outputs.containerMatrix.build
		&& builtins.all (c: w.outputs ? "${c}Manifest") w.outputs.containerMatrix.manifest'

# --- one more definition ---
expect_success "with a busybox definition: the matrix gains exactly bb/aarch64 and bb" \
	eval 'world_eval w.outputs.containerMatrix "$BB" >matrix2.json && jq_ok matrix2.json \
		"(.build - \$m[0].build) == [{container: \"bb\", target: \"aarch64\"}] and (\$m[0].build - .build) == []
		 and .manifest == [\"bb\", \"fd\", \"rg\"]" --slurpfile m matrix.json'
expect_success "with it: the outputs gain exactly bbContainer-aarch64, bbManifest-aarch64, bbManifest" \
	eval 'world_eval "builtins.attrNames w.outputs" "$BB" >names2.json && jq_ok names2.json \
		"(. - \$n[0]) == [\"bbContainer-aarch64\", \"bbManifest\", \"bbManifest-aarch64\"] and (\$n[0] - .) == []" --slurpfile n names.json'
drvs() { world_eval 'builtins.mapAttrs (n: v: v.drvPath) (builtins.removeAttrs w.outputs [ "containerMatrix" ])' "${1:-}"; }
same_drvs() { jq_ok drvs2.json 'with_entries(select(.key | startswith("bb") | not)) == $a[0]' --slurpfile a drvs.json; }
expect_success "every existing output keeps its derivation (drvPath)" \
	eval 'drvs >drvs.json && drvs "$BB" >drvs2.json && same_drvs'
expect_success "nix-build bbContainer-aarch64" world_build_expr "(($(world "$BB")).outputs.bbContainer-aarch64)" bb.json
expect_success "bb: arm64, entrypoint /bin/busybox, on the arm64 tool base layer" \
	eval 'world_build outputs.fdContainer-aarch64.baseLayer base.json &&
		jq_ok bb.json ".config.architecture == \"arm64\" and .config.config.Entrypoint == [\"/bin/busybox\"]
			and .layers[0].digest == \$b[0].layers[0].digest" --slurpfile b base.json'

# --- targets, mkImage, errors ---
expect_success "targets = [ aarch64 ]: the matrix has aarch64 only" \
	world_eval_ok '(w.lib.mkContainerOutputs { inherit (w) containerDefs; targets = [ "aarch64" ]; }).containerMatrix.build
		== [ { container = "fd"; target = "aarch64"; } { container = "rg"; target = "aarch64"; } ]'
expect_success "x86_64 is the machine's own package set, aarch64 pkgsCross.aarch64-multiplatform" \
	world_eval_ok 'w.outputs.fdContainer-x86_64.baseLayer.drvPath == (w.lib.buildLayer { name = "tool-base-layer"; deps = [ w.pkgs.bashInteractive w.pkgs.coreutils ]; }).drvPath
		&& w.outputs.fdContainer-aarch64.baseLayer.drvPath == (w.lib.buildLayer { name = "tool-base-layer";
			deps = [ w.pkgs.pkgsCross.aarch64-multiplatform.bashInteractive w.pkgs.pkgsCross.aarch64-multiplatform.coreutils ]; }).drvPath'
expect_success "a definition's mkImage builds its image (with the target's library and pkgs)" \
	world_eval_ok '(w.lib.mkContainerOutputs { containerDefs.x = { targets = [ "aarch64" ];
		mkImage = { lib, pkgs, target, name }: lib.buildImage { inherit name; copyToRoot = pkgs.busybox; tag = target; }; }; }).xContainer-aarch64.imageTag == "aarch64"'
expect_success "an unknown target: the error names it" \
	world_eval_fails '(w.lib.mkContainerOutputs { inherit (w) containerDefs; targets = [ "riscv64" ]; }).containerMatrix' "riscv64"
expect_success "an unknown package: the error names it" \
	world_eval_fails '(w.lib.mkContainerOutputs { containerDefs.x = { packages = [ "nosuchtool" ]; }; }).xContainer-x86_64.drvPath' "nosuchtool"

done_testing
