#!/usr/bin/env bash
# buildLayer and buildImage (nix/build.nix) with the real nix-build: a chain
# of layers 20 deep builds, each layer holding only its own store path, with
# derivation arguments that do not grow with depth and no layer or path twice
# in an image on top of it; the config (any key case) becomes the image
# config, the store paths it names are in the image; perms, compression,
# created, maxLayers; nix2container arguments stowage does not have fail
# loudly; flake.nix parses and its library is this library.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"   # jq_ok, equals (no registry is started)
. "$(dirname "$0")/nix-lib.sh"
cd "$SCRATCH" || exit 1

# --- the chain: 20 layers, layer i on layer i-1, link i referring to link i-1 ---
expect_success "nix-build a chain of 20 buildLayers" world_build chain.top top.json
expect_success "the top layer JSON holds 20 layers, bottom first" jq_ok top.json '.layers | length == 20'
expect_success "layer i holds exactly link i (its closure's other paths are below it)" jq_ok top.json \
	'[.layers[] | [.paths[].path | sub("^/nix/store/[a-z0-9]{32}-"; "")]] == [range(20) | ["chain-link-\(.)"]]'
expect_success "no path and no layer twice" no_path_twice top.json
expect_success "every link is in the closure of the top layer JSON" in_closure top.json
expect_success "each layer's derivation has the same number of arguments, whatever its depth" \
	world_eval_ok 'builtins.all (n: n == builtins.elemAt w.chain.argCounts 1) (builtins.tail w.chain.argCounts)'
expect_success "each layer's derivation passes one --layer (its own lower layer JSON)" \
	world_eval_ok 'builtins.length (builtins.filter (a: a == "--layer") w.chain.top.drvAttrs.args) == 1'
expect_success "nix-build an image on the top layer and on layer 10 again, with a copy-to-root" world_build chain.image chain.json
expect_success "the image: the 20 chain layers once, then busybox and the root" jq_ok chain.json \
	'.layers | length == 22 and (.[:20] | map(.digest)) == ($t[0].layers | map(.digest))' --slurpfile t top.json
expect_success "the image: no path and no layer twice" no_path_twice chain.json
expect_success "the image runs: /bin/busybox echo (umoci rootfs, chroot)" \
	eval '"$STOWAGE" copy chain.json oci:chain:1 && unpack chain:1 chain-b && run_in chain-b/rootfs amd64 /bin/busybox echo hi >hi.txt && grep -qx hi hi.txt'

# --- buildImage's arguments ---
IMG='w.lib.buildImage {
	name = "Config-Test"; tag = "1.0"; arch = "aarch64-linux"; created = "2024-01-02T03:04:05Z"; author = "me";
	compression = "zstd"; maxLayers = 3;
	copyToRoot = w.pkgs.pkgsCross.aarch64-multiplatform.buildEnv { name = "cfg-root"; paths = [ w.pkgs.pkgsCross.aarch64-multiplatform.busybox ]; pathsToLink = [ "/bin" ]; };
	perms = [ { regex = "-busybox-[^/]*/bin/busybox$"; mode = "4755"; } { regex = "^/bin$"; uid = 7; gid = 8; } ];
	config = {
		entrypoint = [ "${w.pkgs.pkgsCross.aarch64-multiplatform.fd}/bin/fd" ]; Cmd = "--help";
		Env = { PATH = "/bin"; LANG = "C.UTF-8"; }; User = "1000:1000"; WorkingDir = "/work";
		Labels."org.example.x" = "y"; ExposedPorts."8080/tcp" = { }; Volumes = [ "/data" ];
	};
}'
prereq "nix-build an image with every config key, perms, zstd, created, author, maxLayers" world_build_expr "$IMG" cfg.json
dep expect_success "config: Entrypoint (from entrypoint), Cmd, Env, User, WorkingDir, Labels, ExposedPorts, Volumes" jq_ok cfg.json \
	'.config.config | (.Entrypoint | length == 1 and (.[0] | endswith("/bin/fd"))) and .Cmd == ["--help"]
		and .Env == ["LANG=C.UTF-8", "PATH=/bin"] and .User == "1000:1000" and .WorkingDir == "/work"
		and .Labels == {"org.example.x": "y"} and .ExposedPorts == {"8080/tcp": {}} and .Volumes == {"/data": {}}'
dep expect_success "arm64 (from aarch64-linux), created, author, name lowercased, tag" jq_ok cfg.json \
	'.config.architecture == "arm64" and .config.created == "2024-01-02T03:04:05Z" and .config.author == "me"
		and .name == "config-test" and .tag == "1.0"'
dep expect_success "the fd the entrypoint names is in the image, with its closure (glibc, libgcc)" jq_ok cfg.json \
	'[.layers[].paths[].path | sub("^/nix/store/[a-z0-9]{32}-"; "") | split("-")[0]] | (index("fd") != null) and (index("glibc") != null) and (index("libgcc") != null)'
dep expect_success "zstd layers" jq_ok cfg.json 'all(.layers[]; .compression == "zstd" and (.media_type | endswith("+zstd")))'
dep expect_success "maxLayers 3: at most 3 store-path layers + the root layer" jq_ok cfg.json '.layers | length <= 4'
bb_layer() { jq '[.layers[] | any(.paths[].path; test("-busybox-"))] | index(true)' cfg.json; }
bb_file() { jq -r '.layers[].paths[].path | select(test("-busybox-")) | ltrimstr("/") + "/bin/busybox"' cfg.json; }
dep expect_success "perms: the busybox binary 4755 (its layer's tar header)" \
	eval 'layer_tar cfg.json "$(bb_layer)" >bb.tar && same "$(tar_field bb.tar "$(bb_file)" mode)" 4755'
dep expect_success "perms: /bin owned by 7:8 (the root layer's tar header)" \
	eval 'layer_tar cfg.json -1 >root.tar && same "$(tar_field root.tar bin uid):$(tar_field root.tar bin gid)" 7:8'
dep expect_success "stowage verify: arm64 config, arm64 ELF entrypoint" "$STOWAGE" verify cfg.json
expect_success "a name with a port: a valid derivation name" \
	world_eval_ok '(w.lib.buildImage { name = "127.0.0.1:5000"; copyToRoot = w.pkgs.busybox; }).name == "image-127.0.0.1-5000.json"'
expect_success "a store path typed as a plain string in the config is left alone (no context)" \
	world_eval_ok '(w.lib.buildImage { name = "x"; copyToRoot = w.pkgs.busybox;
		config.Env = [ "PATH=/nix/store/00000000000000000000000000000000-nothing/bin" ]; }).drvAttrs.exportReferencesGraph
		== [ "graph-0" "${w.pkgs.busybox}" ]'
expect_success "an unknown config key: the error names it" \
	world_eval_fails '(w.lib.buildImage { name = "x"; config.Healthcheck = { }; }).drvPath' "Healthcheck"
expect_success "fromImage (not supported): the error names it" \
	world_eval_fails '(w.lib.buildImage { name = "x"; fromImage = "y"; }).drvPath' "fromImage"
expect_success "buildLayer maxLayers 2 on the tool base: at most 2 more layers" \
	eval 'world_build_expr "w.lib.buildLayer { deps = [ w.pkgs.fd w.pkgs.ripgrep ]; maxLayers = 2;
		layers = [ w.outputs.fdContainer-x86_64.baseLayer ]; }" two.json && jq_ok two.json ".layers | length == 3"'
expect_success "the layer is built by stowage itself (builder = stowage, no shell)" \
	world_eval_ok 'builtins.baseNameOf w.chain.top.drvAttrs.builder == "stowage"'

# --- flake.nix ---
expect_success "flake.nix parses (nix-instantiate --parse)" nix-instantiate --parse "$TOP/flake.nix"
expect_success "nix/package.nix parses" nix-instantiate --parse "$TOP/nix/package.nix"
FLAKE="let flake = import $TOP/flake.nix; outs = flake.outputs { self = outs; nixpkgs.legacyPackages.x86_64-linux = w.pkgs; }; in outs"
expect_success "the flake's lib.x86_64-linux (fixture pkgs as nixpkgs) makes the library's images" \
	world_eval_ok "(($FLAKE).lib.x86_64-linux.mkContainerOutputs { inherit (w) containerDefs; }).fdContainer-aarch64.drvPath
		== w.outputs.fdContainer-aarch64.drvPath"
expect_success "the flake's lib.forPkgs takes any package set (pkgsCross.aarch64-multiplatform)" \
	world_eval_ok "((($FLAKE).lib.forPkgs w.pkgs.pkgsCross.aarch64-multiplatform).mkToolContainer {
		name = \"fd\"; package = w.pkgs.pkgsCross.aarch64-multiplatform.fd; }).drvPath == w.outputs.fdContainer-aarch64.drvPath"
# The package's source: what the Makefile reads, nothing else (listed by a derivation, which copies it).
SRC="let p = import $TOP/nix/package.nix { lib.platforms.linux = [ ]; stdenv = { mkDerivation = a: a; cc.targetPrefix = \"\"; };
	pkg-config = null; curl = null; openssl = null; jansson = null; zlib = null; zstd = null; };
	in derivation { name = \"src-list\"; system = builtins.currentSystem; builder = \"/bin/sh\"; PATH = \"/usr/bin:/bin\"; src = p.src;
		args = [ \"-c\" \"cd \$src && find . -type f | sed s,^./,, | LC_ALL=C sort >\$out\" ]; }"
expect_success "the flake's package builds from exactly the Makefile and the files of include/, lib/ and src/" \
	eval 'world_build_expr "$SRC" src.txt && diff src.txt <(cd "$TOP" && find Makefile include lib src -type f | LC_ALL=C sort)'

done_testing
