#!/usr/bin/env bash
# Delivery to a Docker daemon: `stowage copy IMAGE.json docker-daemon:NAME:TAG`
# speaks the Docker Engine API (POST /images/load) over the unix socket named
# by DOCKER_HOST; here the daemon is `podman system service` on a socket in the
# scratch directory. podman then lists the image, its ID is the config digest,
# and its rootfs runs the entrypoint.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"   # prereq/dep and the small check helpers
cd "$SCRATCH" || exit 1
F=$FIX/amd64
SOCK=$SCRATCH/podman.sock
NAME=fd-daemon TAG=test-$RUN_ID
REF=localhost/$NAME:$TAG

# podman system service, bounded by timeout, killed on exit (by its pid)
timeout -k 5 300 podman system service --time=0 "unix://$SOCK" >podman-service.log 2>&1 </dev/null &
echo $! >podman-service.pid
at_exit "_registry_kill $SCRATCH/podman-service.pid"
at_exit "podman rmi -f $REF"
ping_daemon() { curl -sf --max-time 2 --unix-socket "$SOCK" http://d/_ping 2>/dev/null | grep -qx OK; }
wait_daemon() {
	local i
	for ((i = 0; i < 150; i++)); do
		ping_daemon && return 0
		kill -0 "$(cat podman-service.pid)" 2>/dev/null || break
		sleep 0.1
	done
	echo "no answer on $SOCK: $(tail -n 5 podman-service.log)" >&2
	return 1
}
if wait_daemon 2>"$ERR"; then pass "podman system service answers /_ping on $SOCK"; else fail "podman system service starts" "see stderr"; done_testing; fi
daemon_version() { curl -sf --max-time 5 --unix-socket "$SOCK" http://d/version | jq -e .ApiVersion >/dev/null; }
expect_success "infra: GET /version answers with an ApiVersion" daemon_version

expect_success "build: base layer" "$STOWAGE" layer "$F/bash" "$F/coreutils" --cache-dir "$CACHE" -o base.json
expect_success "build: fd" "$STOWAGE" build --layer base.json --root "$F/fd-root" --arch amd64 --entrypoint /bin/fd \
	--env PATH=/bin --name fd --tag 1.0 --cache-dir "$CACHE" -o fd.json

# --- copy to docker-daemon: ---
to_daemon() { DOCKER_HOST=unix://$SOCK "$STOWAGE" copy fd.json "$1"; }
t0=$SECONDS
LIMIT=90 prereq "DOCKER_HOST=unix://\$SCRATCH/podman.sock stowage copy fd.json docker-daemon:$NAME:$TAG" to_daemon "docker-daemon:$NAME:$TAG"
took=$((SECONDS - t0)) copied=$PREREQ_OK
expect_success "... in under 10 s (it took ${took}s; curl posts the same 26 MB tar to this socket in 0.1 s)" test "$took" -lt 10
PREREQ_OK=$copied
listed() { podman images --format '{{.Repository}}:{{.Tag}}' | grep -xF "$REF" >/dev/null || { echo "podman images: $(podman images --format '{{.Repository}}:{{.Tag}}' | tr '\n' ' ')" >&2; return 1; }; }
dep expect_success "podman images shows $REF" listed
dep expect_success "podman: the image ID is the config digest" \
	equals "image id" "sha256:$(podman image inspect --format '{{.Id}}' "$REF" 2>/dev/null)" "$(jq -r .config_digest fd.json)"
dep expect_success "podman: entrypoint [/bin/fd], architecture amd64" \
	equals "entrypoint, arch" "$(podman image inspect --format '{{json .Config.Entrypoint}} {{.Architecture}}' "$REF" 2>/dev/null)" '["/bin/fd"] amd64'
runs_fd() {
	local m st=0
	m=$(podman image mount "$REF") || return
	chroot "$m" /bin/fd --version | grep -qF "$(basename "$(readlink -f "$F/fd")" | sed -E 's/^[a-z0-9]{32}-[a-z]+-([0-9.]+)-.*/\1/')" || st=1
	podman image unmount "$REF" >/dev/null
	return $st
}
dep expect_success "the loaded image's rootfs (podman image mount) runs /bin/fd --version" runs_fd
if [ "$took" -lt 10 ]; then
	LIMIT=30 dep expect_success "copying the same image again works (already there)" to_daemon "docker-daemon:$NAME:$TAG"
fi
dep expect_success "podman rmi $REF" podman rmi "$REF"

# --- no daemon ---
fails_cleanly "DOCKER_HOST naming a missing socket: one line naming it" "$SCRATCH/none.sock" \
	env DOCKER_HOST="unix://$SCRATCH/none.sock" "$STOWAGE" copy fd.json "docker-daemon:$NAME:$TAG"
if [ ! -e /var/run/docker.sock ]; then
	fails_cleanly "no DOCKER_HOST and no /var/run/docker.sock: one line naming it" /var/run/docker.sock \
		env -u DOCKER_HOST "$STOWAGE" copy fd.json "docker-daemon:$NAME:$TAG"
fi

done_testing
