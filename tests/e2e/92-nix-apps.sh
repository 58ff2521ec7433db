#!/usr/bin/env bash
# The apps of the Nix library, built with nix-build and run as `nix run`
# would run them (their bin/<meta.mainProgram>): an image's copyToRegistry,
# copyTo and copyToDockerDaemon (podman's Docker API socket), and the
# <c>Manifest / <c>Manifest-<t> apps of mkContainerOutputs, which release
# through `stowage release` with VERSION, TAGS, GITHUB_REF_NAME and the
# repository from the environment, against a local registry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
. "$(dirname "$0")/nix-lib.sh"
cd "$SCRATCH" || exit 1
unset VERSION TAGS GITHUB_REF_NAME GITHUB_SERVER_URL GITHUB_REPOSITORY GITHUB_REPOSITORY_OWNER GITHUB_SHA \
	GITHUB_ACTOR GITHUB_TOKEN SOURCE_DATE_EPOCH REPOSITORY IMAGE_OWNER DOCKER_HOST

if registry_start plain 2>"$ERR"; then pass "a plain registry runs on $REGISTRY"; else fail "a plain registry starts" "registry_start plain failed"; done_testing; fi
R=$REGISTRY
unset REGISTRY   # the apps read it: each check sets what it needs

# app OUT ATTR: nix-build the app ATTR of the world; its program is OUT/bin/<meta.mainProgram>
app() {
	local main
	world_build "$2" "$1" || return
	main=$(world_eval "w.$2.meta.mainProgram") && main=$(jq -r . <<<"$main") || return
	[ -x "$1/bin/$main" ] || { echo "no $1/bin/$main" >&2; return 1; }
	ln -sfn "$1/bin/$main" "$1.run"
}
config_digest() { skopeo inspect --raw --tls-verify=false "docker://$1" | jq -r .config.digest; }
platforms() { skopeo inspect --raw --tls-verify=false "docker://$1" | jq -c '[.manifests[].platform.architecture] | sort'; }

for t in x86_64 aarch64; do
	expect_success "nix-build fdContainer-$t" world_build "outputs.fdContainer-$t" "fd-$t.json"
done

# --- copyToRegistry ---
prereq "nix-build fdContainer-x86_64.copyToRegistry (bin/<meta.mainProgram>)" app push outputs.fdContainer-x86_64.copyToRegistry
dep expect_success "the app's interpreter is a store path (#!/nix/store/...)" eval 'head -n 1 push.run | grep -q "^#!/nix/store/"'
dep expect_success "REGISTRY=$R copy-to-registry: pushes $R/fd:latest" env REGISTRY="$R" ./push.run
dep expect_success "$R/fd:latest is the image (config digest)" same "$(config_digest "$R/fd:latest")" "$(jq -r .config_digest fd-x86_64.json)"
dep expect_success "the app passes its arguments on (--digestfile, --json)" \
	eval 'env REGISTRY="$R" ./push.run --digestfile digest.txt --json >push2.json'
dep expect_success "... the second push uploaded nothing (--json)" jq_ok push2.json '.bytes_uploaded == 0'
dep expect_success "... and the digest file names the manifest" same "$(cat digest.txt)" "sha256:$(skopeo inspect --raw --tls-verify=false "docker://$R/fd:latest" | sha256sum | cut -d' ' -f1)"
dep expect_success "copy-to-registry with neither REGISTRY nor a host in the name: exit 2, says so" \
	eval './push.run 2>err.txt; [ $? = 2 ] && grep -q "has no registry host" err.txt'

# an image whose name holds the registry: REGISTRY is ignored, the tag is the image's
NAMED="w.lib.buildImage { name = \"$R/Team/FD\"; tag = \"v1\"; copyToRoot = w.pkgs.buildEnv { name = \"r\"; paths = [ w.pkgs.fd ]; pathsToLink = [ \"/bin\" ]; }; }"
prereq "nix-build copyToRegistry of an image named $R/Team/FD (tag v1)" world_build_expr "($NAMED).copyToRegistry" named
dep expect_success "the name is lowercased (imageName)" world_eval_ok "($NAMED).imageName == \"$R/team/fd\""
dep expect_success "REGISTRY=nowhere.invalid copy-to-registry pushes $R/team/fd:v1" env REGISTRY=nowhere.invalid named/bin/copy-to-registry
dep expect_success "$R/team/fd:v1 exists" skopeo inspect --raw --tls-verify=false "docker://$R/team/fd:v1"
DOTTED='w.lib.buildImage { name = "tool.v2"; copyToRoot = w.pkgs.busybox; }'
prereq "nix-build copyToRegistry of an image named tool.v2 (a dot, no slash: no registry host)" \
	world_build_expr "($DOTTED).copyToRegistry" dotted
dep expect_success "without REGISTRY it refuses: exit 2, says so" \
	eval 'dotted/bin/copy-to-registry 2>err.txt; [ $? = 2 ] && grep -q "has no registry host" err.txt'
dep expect_success "REGISTRY=$R: pushes $R/tool.v2 under its imageTag" \
	eval 'env REGISTRY="$R" dotted/bin/copy-to-registry && tag=$(world_eval "($DOTTED).imageTag" | jq -r .) &&
		curl -sf "http://$R/v2/tool.v2/tags/list" | jq -e --arg t "$tag" ".tags == [\$t]" >/dev/null'
expect_success "an image without tag: imageTag is its output path's hash" \
	world_eval_ok 'let i = w.lib.buildImage { name = "x"; copyToRoot = w.pkgs.busybox; }; in
		i.imageTag == builtins.substring 0 32 (builtins.baseNameOf (builtins.unsafeDiscardStringContext i.outPath))'

# --- copyTo ---
prereq "nix-build fdContainer-aarch64.copyTo" app copyto outputs.fdContainer-aarch64.copyTo
dep expect_success "copy-to oci:layout:arm: an OCI layout skopeo reads as arm64" \
	eval './copyto.run oci:layout:arm && skopeo inspect --config oci:layout:arm | jq -e ".architecture == \"arm64\"" >/dev/null'
dep expect_success "copy-to docker://$R/fd-arm:1 (any transport)" ./copyto.run "docker://$R/fd-arm:1"
dep expect_success "$R/fd-arm:1 is the arm64 image" same "$(config_digest "$R/fd-arm:1")" "$(jq -r .config_digest fd-aarch64.json)"
dep expect_success "copy-to docker-archive:fd.tar: podman-loadable archive" ./copyto.run docker-archive:fd.tar
dep expect_success "copy-to without a destination: usage, exit 2" eval './copyto.run; [ $? = 2 ]'

# --- copyToDockerDaemon, against podman's Docker API socket ---
SOCK=$SCRATCH/podman.sock NAME=nixapp-$RUN_ID TAG=t$RUN_ID
timeout -k 5 300 podman system service --time=0 "unix://$SOCK" >podman-service.log 2>&1 </dev/null &
echo $! >podman-service.pid
at_exit "_registry_kill $SCRATCH/podman-service.pid"
at_exit "podman rmi -f localhost/$NAME:$TAG"
wait_daemon() {
	local i
	for ((i = 0; i < 150; i++)); do
		curl -sf --max-time 2 --unix-socket "$SOCK" http://d/_ping 2>/dev/null | grep -qx OK && return 0
		kill -0 "$(cat podman-service.pid)" 2>/dev/null || break
		sleep 0.1
	done
	echo "no answer on $SOCK: $(tail -n 5 podman-service.log)" >&2
	return 1
}
expect_success "podman system service answers on $SOCK" wait_daemon
# A name of this run: podman's image store is the machine's.
TOOL="w.lib.mkToolContainer { name = \"$NAME\"; package = w.pkgs.fd; entrypoint = \"fd\"; tag = \"$TAG\"; }"
prereq "nix-build copyToDockerDaemon of a tool container $NAME:$TAG" world_build_expr "($TOOL).copyToDockerDaemon" daemon
dep expect_success "DOCKER_HOST=unix://…/podman.sock copy-to-docker-daemon" env DOCKER_HOST="unix://$SOCK" daemon/bin/copy-to-docker-daemon
dep expect_success "podman lists localhost/$NAME:$TAG" eval 'podman images --format "{{.Repository}}:{{.Tag}}" | grep -qxF "localhost/$NAME:$TAG"'
runs_fd() {
	local m st=0
	m=$(podman image mount "localhost/$NAME:$TAG") || return
	chroot "$m" /bin/fd --version | grep -q '^fd' || st=1
	podman image unmount "localhost/$NAME:$TAG" >/dev/null
	return $st
}
dep expect_success "the loaded image's rootfs runs /bin/fd --version" runs_fd
dep expect_success "podman rmi localhost/$NAME:$TAG" podman rmi "localhost/$NAME:$TAG"

# --- <c>Manifest: stowage release over both targets ---
prereq "nix-build fdManifest" app manifest outputs.fdManifest
dep expect_success "fdManifest: the script releases the x86_64 and aarch64 images" \
	eval 'grep -qF "$(readlink fd-x86_64.json) $(readlink fd-aarch64.json)" manifest.run'
dep expect_success "REGISTRY=$R VERSION=v1.2.3 GITHUB_REF_NAME=main fdManifest" \
	eval 'env REGISTRY="$R" VERSION=v1.2.3 GITHUB_REF_NAME=main ./manifest.run --json >rel.json'
dep expect_success "the release: $R/fd, tags [1.2.3, latest]" jq_ok rel.json \
	'.tags == ["1.2.3", "latest"] and .repositories[0].repository == $r' --arg r "$R/fd"
dep expect_success "$R/fd:1.2.3 is an index of amd64 and arm64" same "$(platforms "$R/fd:1.2.3")" '["amd64","arm64"]'
dep expect_success "$R/fd:latest is the same index" same "$(skopeo inspect --raw --tls-verify=false "docker://$R/fd:latest" | sha256sum)" \
	"$(skopeo inspect --raw --tls-verify=false "docker://$R/fd:1.2.3" | sha256sum)"
dep expect_success "skopeo --override-arch arm64 picks the aarch64 image" \
	eval 'skopeo inspect --config --tls-verify=false --override-arch arm64 "docker://$R/fd:1.2.3" | jq -e ".architecture == \"arm64\"" >/dev/null'
dep expect_success "TAGS=edge,nightly IMAGE_OWNER=Team: $R/team/fd gets 2.0.0, edge, nightly (no latest)" \
	eval 'env REGISTRY="$R" IMAGE_OWNER=Team VERSION=2.0.0 TAGS=edge,nightly GITHUB_REF_NAME=main ./manifest.run --json >rel2.json &&
		jq_ok rel2.json ".tags == [\"2.0.0\", \"edge\", \"nightly\"] and .repositories[0].repository == \$r" --arg r "$R/team/fd"'
dep expect_success "REPOSITORY=$R/elsewhere overrides the rest" \
	eval 'env REPOSITORY="$R/elsewhere" REGISTRY=nowhere.invalid VERSION=3.0.0 ./manifest.run --json >rel3.json &&
		jq_ok rel3.json ".repositories[0].repository == \$r" --arg r "$R/elsewhere"'
dep expect_success "without VERSION: fails, naming the version" \
	eval '! env REGISTRY="$R" ./manifest.run 2>err.txt && grep -qi version err.txt'

prereq "nix-build rgManifest-aarch64 (single target)" app single outputs.rgManifest-aarch64
dep expect_success "REGISTRY=$R VERSION=1.0.0 rgManifest-aarch64: a plain arm64 manifest under $R/rg:1.0.0" \
	eval 'env REGISTRY="$R" VERSION=1.0.0 GITHUB_REF_NAME=dev ./single.run &&
		skopeo inspect --raw --tls-verify=false "docker://$R/rg:1.0.0" | jq -e ".config.digest" >/dev/null &&
		skopeo inspect --config --tls-verify=false "docker://$R/rg:1.0.0" | jq -e ".architecture == \"arm64\"" >/dev/null'

done_testing
