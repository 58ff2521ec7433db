#!/usr/bin/env bash
# mkDevContainer, mkRuntime, mkNixDatabase and packageSets (nix/), built with
# the real nix-build against the fixture package set and the stowage under
# test as the builder; the images are unpacked by umoci and run under chroot.
. "$(dirname "$0")/lib.sh"

EXPR=$TOP/tests/e2e/nix-dev.nix
# (functions, not an array: checks run in a child bash, which gets no arrays)
nixb() { nix-build "$EXPR" --argstr debDir "$TOP/build/debs" --argstr stowage "$STOWAGE" "$@"; }
nixi() { nix-instantiate "$EXPR" --argstr debDir "$TOP/build/debs" --argstr stowage "$STOWAGE" "$@"; }
chmod 0755 "$SCRATCH"   # uid 1000 reaches the unpacked rootfs through it
# as_user ROOTFS CMD...: CMD in the rootfs as uid/gid 1000 with the image's HOME
as_user() {
	local root=$1; shift
	env -i HOME=/home/vscode USER=vscode PATH=/bin /usr/sbin/chroot --userspec=1000:1000 "$root" "$@"
}
mode_owner() { stat -c '%a %u:%g' "$1"; }

# --- the dev container ---------------------------------------------------------
LIMIT=300 expect_success "mkDevContainer builds with nix-build" nixb -A dev -o "$SCRATCH/dev"
DEV=$SCRATCH/dev
expect_success "the dev image is delivered to an OCI layout and unpacked by umoci" \
	eval '"$STOWAGE" copy "$DEV" oci:"$SCRATCH/oci-dev":dev && unpack "$SCRATCH/oci-dev:dev" "$SCRATCH/b-dev" && chmod 755 "$SCRATCH/b-dev"'
R=$SCRATCH/b-dev/rootfs

expect_success "config: uid 1000, /workspace, bash, certificates in Env" eval '
	same "$(jq -c "[.config.config.User, .config.config.WorkingDir, .config.config.Cmd]" "$DEV")" "[\"1000:1000\",\"/workspace\",[\"/bin/bash\"]]" &&
	jq -e ".config.config.Env | index(\"SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt\") and index(\"NIX_SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt\") and index(\"HOME=/home/vscode\")" "$DEV" >/dev/null'
expect_success "the user: passwd, group, shadow; home and /workspace are uid 1000's" eval '
	grep -x "vscode:x:1000:1000:vscode:/home/vscode:/bin/bash" "$R/etc/passwd" >/dev/null &&
	grep -x "vscode:x:1000:" "$R/etc/group" >/dev/null &&
	grep -x "vscode:!:1::::::" "$R/etc/shadow" >/dev/null &&
	same "$(mode_owner "$R/etc/shadow")" "640 0:0" &&
	same "$(mode_owner "$R/home/vscode")" "755 1000:1000" &&
	same "$(mode_owner "$R/home/vscode/.bashrc")" "644 1000:1000" &&
	same "$(mode_owner "$R/workspace")" "755 1000:1000"'
expect_success "/tmp is 1777, /usr/bin/env is coreutils' env, certificates resolve in the rootfs" eval '
	same "$(mode_owner "$R/tmp")" "1777 0:0" &&
	[[ $(readlink "$R/usr/bin/env") = /nix/store/*-coreutils-*/bin/env ]] &&
	[ -x "$R$(readlink "$R/usr/bin/env")" ] &&
	b=$(readlink "$R/etc/ssl/certs/ca-bundle.crt") && [[ $b = /nix/store/*-nss-cacert-*/etc/ssl/certs/ca-bundle.crt ]] &&
	grep -c "BEGIN CERTIFICATE" "$R$b" >/dev/null &&
	same "$(readlink "$R/etc/ssl/certs/ca-certificates.crt")" "$b"'
expect_success "sudoers: 0440 root, NOPASSWD for the user; bin/sudo setuid root" eval '
	same "$(mode_owner "$R/etc/sudoers")" "440 0:0" &&
	grep -x "vscode ALL=(ALL:ALL) NOPASSWD: ALL" "$R/etc/sudoers" >/dev/null &&
	s=$(readlink "$R/bin/sudo") && same "$(mode_owner "$R$s")" "4755 0:0"'
expect_success "the user runs sudo without a password: id -u says 0" eval '
	same "$(as_user "$R" /bin/sudo -n /bin/id -u 2>/dev/null)" 0'
expect_success "nix.conf enables flakes (system and user)" eval '
	grep -x "experimental-features = nix-command flakes" "$R/etc/nix/nix.conf" >/dev/null &&
	cmp "$R/etc/nix/nix.conf" "$R/home/vscode/.config/nix/nix.conf"'
mkdir -p "$R/proc" && mount -t proc proc "$R/proc" && at_exit "umount '$R/proc'"
expect_success "the user's bashrc installs the direnv hook" eval '
	grep -x "eval \"\$(direnv hook bash)\"" "$R/home/vscode/.bashrc" >/dev/null &&
	same "$(as_user "$R" /bin/bash -c "cd && . ~/.bashrc && declare -F _direnv_hook && echo \$PROMPT_COMMAND")" "_direnv_hook
_direnv_hook"'
umount "$R/proc"

# --- its Nix database ----------------------------------------------------------
DB=$R/nix/var/nix/db/db.sqlite
expect_success "the Nix database lists exactly the store paths of the image" eval '
	sqlite3 "$DB" "SELECT path FROM ValidPaths ORDER BY path" >"$SCRATCH/db.txt" &&
	(cd "$R/nix/store" && ls -A | sed "s|^|/nix/store/|" | LC_ALL=C sort) >"$SCRATCH/store.txt" &&
	cmp "$SCRATCH/db.txt" "$SCRATCH/store.txt" && [ "$(wc -l <"$SCRATCH/db.txt")" -gt 10 ]'
echo "# dev image: $(wc -l <"$SCRATCH/db.txt") store paths registered, $(jq '.layers | length' "$DEV") layers"
expect_success "registration times are fixed; references are Nix's own" eval '
	same "$(sqlite3 "$DB" "SELECT DISTINCT registrationTime FROM ValidPaths")" 1 &&
	for p in $(cat "$SCRATCH/db.txt"); do
		same "$(nix-store -q --references "$p" | LC_ALL=C sort)" \
			"$(sqlite3 "$DB" "SELECT r.path FROM Refs JOIN ValidPaths v ON v.id = Refs.referrer JOIN ValidPaths r ON r.id = Refs.reference WHERE v.path = '\''$p'\'' ORDER BY r.path")" || exit 1
	done'
expect_success "/nix/store and the database are the user's" eval '
	same "$(mode_owner "$R/nix/store")" "755 1000:1000" &&
	same "$(mode_owner "$R/nix/var/nix/db")" "755 1000:1000" &&
	same "$(mode_owner "$DB")" "644 1000:1000"'
# Nix itself (Debian's nix-bin as a fixture store path, in the image) run
# inside the container by the user, with /proc and /dev as a runtime gives them.
mkdir -p "$R/proc" "$R/dev" && mount -t proc proc "$R/proc" && mount --bind /dev "$R/dev" &&
	at_exit "umount '$R/proc'" && at_exit "umount '$R/dev'"
expect_success "in the container the user's nix verifies the store against the database, hashes included" eval '
	as_user "$R" /bin/nix --version | grep -x "nix (Nix) 2.8.0" >/dev/null &&
	as_user "$R" /bin/nix-store --verify --check-contents'
expect_success "in the container nix knows the image's store paths and their closures" eval '
	same "$(as_user "$R" /bin/nix path-info --all | LC_ALL=C sort)" "$(cat "$SCRATCH/db.txt")" &&
	s=$(readlink -f "$FIX/amd64/sudo") &&
	same "$(as_user "$R" /bin/nix-store -q --requisites /bin/sudo | LC_ALL=C sort)" "$(nix-store -q --requisites "$s" | LC_ALL=C sort)"'
expect_success "in the container the user adds a path to the store" eval '
	p=$(as_user "$R" /bin/bash -c "echo made-inside > /tmp/f && nix-store --add /tmp/f") &&
	[[ $p = /nix/store/*-f ]] && same "$(cat "$R$p")" made-inside &&
	same "$(as_user "$R" /bin/nix path-info --all | wc -l)" "$(( $(wc -l <"$SCRATCH/db.txt") + 1 ))"'
umount "$R/proc" "$R/dev"

# --- reproducible ---------------------------------------------------------------
expect_success "rebuilding the dev image, its database and root trees gives identical outputs (nix-store --check)" eval '
	drv=$(nixi -A dev 2>/dev/null) &&
	checks=$(nix-store -qR "$drv" | grep -E -- "-(nix-database|image-devbox\.json|devbox-root|devbox-env)\.drv$") &&
	[ "$(echo "$checks" | wc -l)" -eq 5 ] &&
	nix-store --realise --check $checks >/dev/null'
expect_success "stowage verify: the dev image's config arch matches its ELF files, its layers their digests" \
	"$STOWAGE" verify "$DEV"
expect_success "an arm64 dev container has its own exact database" eval '
	nixb --argstr arch arm64 -A dev -o "$SCRATCH/dev-arm64" >/dev/null &&
	same "$(jq -r .config.architecture "$SCRATCH/dev-arm64")" arm64 &&
	"$STOWAGE" copy "$SCRATCH/dev-arm64" oci:"$SCRATCH/oci-arm":dev >/dev/null &&
	unpack "$SCRATCH/oci-arm:dev" "$SCRATCH/b-arm" &&
	ra=$SCRATCH/b-arm/rootfs &&
	same "$(sqlite3 "$ra/nix/var/nix/db/db.sqlite" "SELECT path FROM ValidPaths ORDER BY path")" \
		"$(cd "$ra/nix/store" && ls -A | sed "s|^|/nix/store/|" | LC_ALL=C sort)" &&
	! grep -- -amd64 <(ls "$ra/nix/store")'

# --- the runtime ---------------------------------------------------------------
LIMIT=300 expect_success "mkRuntime builds with nix-build" nixb -A runtime -o "$SCRATCH/rt"
RT=$SCRATCH/rt
expect_success "runtime config: uid 1000 in /app, entrypoint and Env from extraConfig" eval '
	same "$(jq -c "[.config.config.User, .config.config.WorkingDir, .config.config.Entrypoint, .config.config.Env[-1]]" "$RT")" \
		"[\"1000:1000\",\"/app\",[\"/bin/rg\"],\"RUST_LOG=info\"]"'
expect_success "the runtime is delivered and unpacked" \
	eval '"$STOWAGE" copy "$RT" oci:"$SCRATCH/oci-rt":rt && unpack "$SCRATCH/oci-rt:rt" "$SCRATCH/b-rt"'
RR=$SCRATCH/b-rt/rootfs
expect_success "in the runtime uid 1000 owns /app and works there; the entrypoint runs" eval '
	grep -x "app:x:1000:1000:app:/app:/bin/sh" "$RR/etc/passwd" >/dev/null &&
	same "$(mode_owner "$RR/app")" "755 1000:1000" &&
	same "$(env -i PATH=/bin /usr/sbin/chroot --userspec=1000:1000 "$RR" /bin/sh -c "cd /app && touch made && id -u && pwd")" "1000
/app" &&
	/usr/sbin/chroot "$RR" /bin/rg --version | grep "^ripgrep" >/dev/null'
expect_success "the runtime holds no dev tools and no Nix" eval '
	! ls "$RR/nix/store" | grep -E -- "-(sudo|direnv|bash|coreutils|nix|linux-pam)-" &&
	[ ! -e "$RR/nix/var" ] && [ ! -e "$RR/etc/nix" ] && [ ! -e "$RR/etc/sudoers" ] &&
	[ ! -e "$RR/bin/sudo" ] && [ ! -e "$RR/bin/bash" ] && [ ! -e "$RR/usr/bin/env" ] &&
	same "$(ls "$RR/bin" | tr "\n" " ")" "busybox rg sh "'

# --- package sets ----------------------------------------------------------------
expect_success "packageSets has the eleven sets, each a list of derivations of the caller's pkgs" eval '
	nixi --eval --strict --json -A sets >"$SCRATCH/sets.json" &&
	same "$(jq -r "keys | join(\" \")" "$SCRATCH/sets.json")" "base devTools go goDev nixTools node nodeDev python pythonDev rust rustDev" &&
	jq -e "[.[][]] | length > 30" "$SCRATCH/sets.json" >/dev/null &&
	nixi -A setPaths >/dev/null'
echo "# in the package sets: fixture packages: $(jq -r "[.[][] | select(.kind == \"fixture\") | .name] | unique | join(\" \")" "$SCRATCH/sets.json")"
echo "#   host tools: $(jq -r "[.[][] | select(.kind == \"host\") | .name] | unique | join(\" \")" "$SCRATCH/sets.json");" \
	"stubs: $(jq "[.[][] | select(.kind == \"stub\")] | length" "$SCRATCH/sets.json") (tests/fixtures/dev-pkgs.nix)"

done_testing
