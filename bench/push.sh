#!/usr/bin/env bash
# stowage push against a local registry (CNCF distribution, `docker-registry`),
# compared with skopeo in the same run: cold push of the large image (gzip and
# none; a fresh, empty registry for every timed run) and the no-op re-push of
# its 100 layers. Prints a table and writes bench/PUSH-RESULTS.md. See
# bench/README.md.
#
# A cold gzip push starts from a cache that holds the blobs the build
# compressed (a hard-linked copy of the build cache's blobs/, but no record of
# pushed blobs): it sends them as they are, exactly as skopeo sends the OCI
# layout's precompressed blobs. A second row pushes from an empty cache, so it
# compresses every layer at push time.
#
#   bash bench/push.sh           # after make; `make bench` runs it after run.sh
#
# Environment:
#   SCALE=100      size of the closure in percent (bench/large-closure.nix); a
#                  scale other than 100 writes build/bench/PUSH-RESULTS-s<SCALE>.md
#   RUNS=5         timed cold pushes per row (median reported), 3..10
#   NOOP_RUNS=20   timed no-op re-pushes per row, 10..100
#   STOWAGE=build/stowage
#   LIMIT=900      seconds any one measurement (all its runs) may take
#   QUIET_WAIT=60  seconds to wait, before each measurement, for the machine
#                  to be idle (others' work shows in the "others' CPU" column)
BENCH=bench-push
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

scale=${SCALE:-100}
noop_runs=${NOOP_RUNS:-20}
percent SCALE "$scale"
[[ $noop_runs =~ ^[0-9]+$ ]] || die "NOOP_RUNS must be a number, not '$noop_runs'"
[[ $limit =~ ^[1-9][0-9]*$ ]] || die "LIMIT must be a number of seconds, not '$limit'"
clamp runs 3 10
clamp noop_runs 10 100
if [ "$scale" = 100 ]; then
  link=build/bench/large results=bench/PUSH-RESULTS.md
else
  link=build/bench/large-s$scale results=build/bench/PUSH-RESULTS-s$scale.md
fi
need_stowage
for t in nix-build nix-store docker-registry skopeo curl jq python3 timeout awk find xargs; do
  command -v "$t" >/dev/null || die "$t not found (run make setup; docker-registry and skopeo come from apt)"
done
need_apt() {
  say "installing $1 (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 install -y "$1" >/dev/null ||
    die "cannot install $1"
}
command -v hyperfine >/dev/null || need_apt hyperfine
have_strace=0; command -v strace >/dev/null && have_strace=1
have_perf=0

# --- the closure (the GC root bench/run.sh makes; built when missing) ----------
mkdir -p build/bench
top=
if [ -L "$link" ] && top=$(readlink -f "$link") && [ -d "$top" ] && nix-store -q --hash "$top" >/dev/null 2>&1; then
  say "reusing the closure $link -> $top"
else
  say "building the large closure (scale $scale) -> $link"
  timeout 600 nix-build bench/large-closure.nix --argstr scale "$scale" -j auto -o "$link" >/dev/null 2>"build/bench/push-nix-build.err" ||
    { tail -n 20 build/bench/push-nix-build.err >&2; die "nix-build failed"; }
  rm -f build/bench/push-nix-build.err
  top=$(readlink -f "$link")
fi
file_bytes=$(nix-store -qR "$top" | xargs -d '\n' -I{} find {} -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')

# the build keeps the whole image's compressed layers (the default cap, 4 GiB, is
# below a large SCALE's image)
export STOWAGE_BLOB_CACHE_MAX=$((file_bytes * 2 + (1 << 30)))

# --- scratch: tmpfs when it has room (layouts, registry storage, the build's blobs: ~5x the closure) ----
need_kb=$((file_bytes * 5 / 1024 + 1048576))
base=/dev/shm
if [ ! -d "$base" ] || [ ! -w "$base" ] || [ "$(df -Pk "$base" | awk 'NR == 2 { print $4 }')" -lt "$need_kb" ]; then
  base=${TMPDIR:-/tmp}
fi
tmp=$(mktemp -d "$base/stowage-bench-push.XXXXXX")
base_fs=$(df -PT "$tmp" | awk 'NR == 2 { print $2 }')
regs=()
cleanup() {
  local d
  for d in "${regs[@]}"; do bash "$tmp/registry.sh" stop "$d" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# nothing of stowage's or skopeo's user-level state outside $tmp (skopeo as
# root keeps its blob-info cache in /var/lib/containers/cache regardless)
export XDG_CACHE_HOME=$tmp/xdg-cache XDG_DATA_HOME=$tmp/xdg-data XDG_CONFIG_HOME=$tmp/xdg-config
# Every measurement uses this copy: a rebuild of build/stowage during the run
# cannot mix two binaries into one table.
stowage_src=$stowage
cp "$stowage" "$tmp/stowage"
stowage=$tmp/stowage
lifetime=$((limit + 300))   # a registry left behind dies by itself after this

# --- registries ----------------------------------------------------------------
# $tmp/registry.sh fresh DIR [BLOBS]: stops DIR's registry if it runs (appending the CPU
# seconds it used to DIR/cpu), empties DIR/storage and DIR/cache (then, with BLOBS,
# hard-links the build cache's compressed blobs into DIR/cache/blobs: no blob
# records), starts docker-registry on DIR/port of 127.0.0.1 and waits (bounded)
# until it answers.
# $tmp/registry.sh stop DIR: only the stopping part. It is hyperfine's --prepare
# command for the cold pushes, so that every timed push meets an empty registry.
cat >"$tmp/registry.sh" <<'EOF'
set -u
cmd=$1 d=$2 seed=${3:-}
hz=$(getconf CLK_TCK)
stop() {
  local p c i
  p=$(cat "$d/pid" 2>/dev/null) || return 0
  rm -f "$d/pid"
  [ -n "$p" ] || return 0
  c=$(cat "/proc/$p/task/$p/children" 2>/dev/null) c=${c%% *}
  if [ -n "$c" ] && [ -r "/proc/$c/stat" ]; then
    awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$c/stat" >>"$d/cpu"
    kill "$c" 2>/dev/null
  fi
  kill "$p" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    kill -0 "$p" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -KILL "$p" ${c:+"$c"} 2>/dev/null
  return 0
}
start() {
  local i port
  port=$(cat "$d/port")
  rm -rf "$d/storage" "$d/cache"
  mkdir -p "$d/storage" "$d/cache"
  if [ -n "$seed" ]; then cp -al "$seed" "$d/cache/blobs" || return; fi
  # a clean environment: distribution reads REGISTRY_* variables as configuration
  env -i PATH="$PATH" timeout -k 5 "$(cat "$d/lifetime")" docker-registry serve "$d/config.yml" \
    >"$d/registry.log" 2>&1 </dev/null &
  echo $! >"$d/pid"
  for ((i = 0; i < 150; i++)); do
    curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/v2/?bench-up=1" && return 0
    kill -0 "$(cat "$d/pid")" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$d/registry.log" >&2
  echo "registry on 127.0.0.1:$port did not answer" >&2
  return 1
}
case $cmd in
fresh) stop && start ;;
stop) stop ;;
*) echo "usage: registry.sh fresh DIR [BLOBS] | stop DIR" >&2; exit 2 ;;
esac
EOF

# new_registry NAME: DIR $tmp/reg-NAME with its config (a free port of 127.0.0.1,
# filesystem storage in DIR/storage, access log on); prints DIR.
new_registry() {
  local d=$tmp/reg-$1 port
  mkdir -p "$d"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "$port" >"$d/port"
  echo "$lifetime" >"$d/lifetime"
  : >"$d/cpu"
  cat >"$d/config.yml" <<EOF
version: 0.1
log:
  level: warn
  formatter: text
  accesslog: {disabled: false}
storage:
  filesystem: {rootdirectory: $d/storage}
  maintenance: {uploadpurging: {enabled: false}}
http:
  addr: 127.0.0.1:$port
  secret: stowage-bench-$1-$$
EOF
  regs+=("$d")
  echo "$d"
}
fresh() { bash "$tmp/registry.sh" fresh "$@" || die "cannot start the registry in $1"; }
stop_registry() { bash "$tmp/registry.sh" stop "$1"; }
# registry_cpu DIR: CPU seconds the running registry has used so far
registry_cpu() {
  local p c
  p=$(cat "$1/pid") c=$(cat "/proc/$p/task/$p/children") c=${c%% *}
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$c/stat"
}
# sync DIR: waits (bounded) until the registry's access log shows a marker
# request; every request answered before it is in the log by then
sync_log() {
  local d=$1 tag="bench-sync=$$-$RANDOM$RANDOM" i
  curl -s -o /dev/null --max-time 3 "http://127.0.0.1:$(cat "$d/port")/v2/?$tag" || true
  for ((i = 0; i < 50; i++)); do
    grep -qF -- "$tag" "$d/registry.log" && return 0
    sleep 0.1
  done
  die "the registry log in $d did not show the sync request"
}
# requests DIR [FROM_LINE]: 'METHOD URI STATUS' of each access-log line after
# FROM_LINE (the script's own probes left out)
requests() {
  tail -n "+$((${2:-0} + 1))" "$1/registry.log" |
    sed -nE 's/^[^"]* - [^"]*\[[^]]*\] "([A-Z]+) ([^ "]*) HTTP\/[0-9.]+" ([0-9]{3}) .*/\1 \2 \3/p' |
    grep -v 'bench-\(up\|sync\)=' || true
}
# summarise requests: "N (a HEAD, b POST, ...)"
req_summary() {
  awk '{ n++; m[$1]++ } END {
    printf "%d (", n; s = ""
    split("GET HEAD POST PATCH PUT DELETE", o, " ")
    for (i = 1; i <= 6; i++) if (o[i] in m) { printf "%s%d %s", s, m[o[i]], o[i]; s = ", "; delete m[o[i]] }
    for (k in m) { printf "%s%d %s", s, m[k], k; s = ", " }
    printf ")" }'
}

# --- machine ------------------------------------------------------------------
ncpu=$(nproc)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- lib src include 2>/dev/null || rev="$rev + uncommitted changes in lib/ src/ include/"
hz=$(getconf CLK_TCK)
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
snap() {
  times >"$tmp/times"
  snap_own=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } print s }' "$tmp/times")
  snap_busy=$(busy_ticks) snap_wall=$(date +%s.%N)
}
# others_pct BUSY0 OWN0 WALL0 [REGISTRY_CPU_S]: percent of ncpu x wall time
# used by other processes since a snap (the registries this script started are
# not its children: their CPU time is passed in)
others_pct() {
  snap
  awk -v b="$(($snap_busy - $1))" -v o="$(awk "BEGIN { print $snap_own - $2 + ${4:-0} }")" \
      -v w="$(awk "BEGIN { print $snap_wall - $3 }")" -v hz="$hz" -v n="$ncpu" \
      'BEGIN { p = 100 * (b / hz - o) / (n * w); printf "%.0f", p < 0 ? 0 : p }'
}
quiet_wait=${QUIET_WAIT:-60}
wait_quiet() {
  local end=$((SECONDS + quiet_wait)) b0 b1
  while :; do
    b0=$(busy_ticks); sleep 2; b1=$(busy_ticks)
    (((b1 - b0) * 100 < 10 * 2 * hz * ncpu)) && return 0
    ((SECONDS < end)) || { say "others keep the machine busy; measuring anyway"; return 0; }
  done
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
snap; run_busy=$snap_busy run_own=$snap_own run_wall=$snap_wall
reg_cpu_total=0   # CPU seconds of all registries (for the whole-run "others" figure)

calc() { awk "BEGIN { printf \"$1\", $2 }"; }
median() { jq -r '.results[0].median' "$tmp/$1.json"; }
spread() { jq -r '.results[0] | "\(.min|.*1000|round/1000)-\(.max|.*1000|round/1000)"' "$tmp/$1.json"; }
fmt() { calc "%.3f" "$(median "$1")"; }
fmt_ms() { calc "%.0f" "1000 * $(median "$1")"; }
client_cpu() { jq -r '.results[0] | .user + .system' "$tmp/$1.json"; }   # mean, seconds
median_of() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- page cache ------------------------------------------------------------------
say "warming the page cache (cat over every file of $top)"
nix-store -qR "$top" | xargs -d '\n' -I{} find {} -type f -print0 | timeout 600 xargs -0 cat >/dev/null

# --- images and layouts (untimed) -------------------------------------------------
declare -A img layout layers bytes export_s
for c in gzip none; do
  img[$c]=$tmp/img-$c.json
  say "stowage build --compression $c"
  timeout "$limit" "$stowage" build "$top" --arch amd64 --compression "$c" --cache-dir "$tmp/build-cache" \
    -o "${img[$c]}" 2>"$tmp/build-$c.err" || { cat "$tmp/build-$c.err" >&2; die "stowage build failed"; }
  layers[$c]=$(jq '.layers | length' "${img[$c]}")
  layout[$c]=$tmp/oci-$c
  say "stowage copy ${img[$c]##*/} oci:${layout[$c]}:bench"
  t0=$(date +%s.%N)
  # --no-cache: the export synthesises every layer (its time is what making the layout costs)
  timeout "$limit" "$stowage" copy "${img[$c]}" "oci:${layout[$c]}:bench" --no-cache 2>"$tmp/export-$c.err" ||
    { cat "$tmp/export-$c.err" >&2; die "stowage copy to the OCI layout failed"; }
  export_s[$c]=$(calc "%.1f" "$(date +%s.%N) - $t0")
done
[ "${layers[gzip]}" = "${layers[none]}" ] || die "the gzip and none images have different layer counts"
nlayers=${layers[gzip]}
blobs=$tmp/build-cache/blobs/sha256   # what the gzip build compressed
[ "$(find "$blobs" -type f -name '????????????????????????????????????????????????????????????????' | wc -l)" -ge \
  "$(jq '[.layers[].digest] | unique | length' "${img[gzip]}")" ] || die "the gzip build did not keep its layers in $blobs"

# --- cold pushes: a fresh registry for every timed run ---------------------------------
rc=$(new_registry cold)
cport=$(cat "$rc/port")
dest=127.0.0.1:$cport/large:1
fresh "$rc"
# one untimed push of each image first: it must work, and its --json tells
# how many bytes a push sends (layers + config)
for c in gzip none; do
  fresh "$rc"
  timeout "$limit" "$stowage" push "${img[$c]}" "$dest" --cache-dir "$rc/cache" --json >"$tmp/verify-$c.json" 2>"$tmp/verify-$c.err" ||
    { cat "$tmp/verify-$c.err" >&2; die "stowage push ($c) failed"; }
  jq -e --argjson n "$nlayers" '[.layers[] | select(.action == "uploaded")] | length == $n' "$tmp/verify-$c.json" >/dev/null ||
    die "the first push ($c) did not upload every layer: $(jq -c 'del(.layers)' "$tmp/verify-$c.json")"
  bytes[$c]=$(jq '.bytes_uploaded' "$tmp/verify-$c.json")
done
# the cold gzip rows push from the build's blobs: every layer must come from there
fresh "$rc" "$tmp/build-cache/blobs"
timeout "$limit" "$stowage" push "${img[gzip]}" "$dest" --cache-dir "$rc/cache" --json >"$tmp/verify-cached.json" 2>"$tmp/verify-cached.err" ||
  { cat "$tmp/verify-cached.err" >&2; die "stowage push (gzip, blobs cached) failed"; }
jq -e --argjson n "$nlayers" '.layers_from_cache == $n' "$tmp/verify-cached.json" >/dev/null ||
  die "the push with the build's blobs did not send them all from the cache: $(jq -c 'del(.layers)' "$tmp/verify-cached.json")"
stop_registry "$rc"
# drain_rc: the CPU time of the cold registries stopped so far, added to reg_cpu_total
drain_rc() {
  reg_cpu_total=$(calc "%.2f" "$reg_cpu_total + $(awk '{ s += $1 } END { printf "%.2f", s }' "$rc/cpu")")
  : >"$rc/cpu"
}
drain_rc

# [cold_seed=BLOBS] cold NAME COMPRESSION -- COMMAND...: RUNS timed runs of COMMAND,
# each against a fresh registry (hyperfine --prepare; with cold_seed, a fresh
# cache holding the build's blobs, hard-linked). Afterwards, from the last run's
# registry: its requests, and a check that the push was complete and cold
# (every blob uploaded, the manifest there).
cold() {
  local name=$1 c=$2 b o w rcpu m; shift 3
  wait_quiet
  say "measuring $name ($runs runs, a fresh registry each)"
  : >"$rc/cpu"
  snap; b=$snap_busy o=$snap_own w=$snap_wall
  timeout "$limit" hyperfine -N --runs "$runs" --style basic --export-json "$tmp/$name.json" \
    --prepare "bash $tmp/registry.sh fresh $rc ${cold_seed:-}" "$*" >"$tmp/$name.out" 2>&1 ||
    { tail -n 20 "$tmp/$name.out" >&2; die "measurement '$name' failed or took over ${limit}s"; }
  # the last run's registry is still up: check it, then stop it (its CPU lands in $rc/cpu)
  sync_log "$rc"
  requests "$rc" >"$tmp/$name.requests"
  m=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:$cport/v2/large/manifests/1")
  [ "$m" = 200 ] || die "$name: no manifest large:1 after the push (HTTP $m)"
  local uploads
  uploads=$(awk '$1 == "PUT" && $2 ~ /\/blobs\/uploads\// && $3 == 201' "$tmp/$name.requests" | wc -l)
  [ "$uploads" -eq $((nlayers + 1)) ] || die "$name: $uploads blob uploads in the last run, want $((nlayers + 1)) (not cold?)"
  stop_registry "$rc"
  rcpu=$(awk '{ s += $1 } END { printf "%.2f", s }' "$rc/cpu")
  median_of <"$rc/cpu" >"$tmp/$name.regcpu"
  drain_rc
  others_pct "$b" "$o" "$w" "$rcpu" >"$tmp/$name.others"
}

skopeo_cold=(skopeo copy -q --dest-tls-verify=false)
# gzip: the blobs the build compressed are in the push's cache (as skopeo's layout holds them)
cold_seed=$tmp/build-cache/blobs cold cold_stowage_gzip gzip -- "$stowage" push "${img[gzip]}" "$dest" --cache-dir "$rc/cache"
cold_seed=$tmp/build-cache/blobs cold cold_stowage_gzip_j8 gzip -- "$stowage" push "${img[gzip]}" "$dest" --cache-dir "$rc/cache" --jobs 8
# ... and from an empty cache: every layer synthesised and deflated at push time
cold cold_stowage_gzip_nocache gzip -- "$stowage" push "${img[gzip]}" "$dest" --cache-dir "$rc/cache"
cold cold_skopeo_gzip gzip -- "${skopeo_cold[@]}" "oci:${layout[gzip]}:bench" "docker://$dest"
cold cold_stowage_none none -- "$stowage" push "${img[none]}" "$dest" --cache-dir "$rc/cache"
cold cold_stowage_none_j8 none -- "$stowage" push "${img[none]}" "$dest" --cache-dir "$rc/cache" --jobs 8
# skopeo gzips uncompressed layers on the way to a registry unless told to keep the digests
cold cold_skopeo_none none -- "${skopeo_cold[@]}" --preserve-digests "oci:${layout[none]}:bench" "docker://$dest"
cold cold_skopeo_none_default none -- "${skopeo_cold[@]}" "oci:${layout[none]}:bench" "docker://$dest"

# --- no-op re-push ------------------------------------------------------------------
rn=$(new_registry noop)
nport=$(cat "$rn/port")
ndest=127.0.0.1:$nport/large:1
fresh "$rn"
say "first push of the gzip image to the re-push registry"
timeout "$limit" "$stowage" push "${img[gzip]}" "$ndest" --cache-dir "$tmp/noop-cache" --json >"$tmp/noop-first.json" 2>"$tmp/noop-first.err" ||
  { cat "$tmp/noop-first.err" >&2; die "stowage push (re-push registry) failed"; }
stowage_digest=$(jq -r .manifest_digest "$tmp/noop-first.json")
timeout "$limit" skopeo copy -q --dest-tls-verify=false --digestfile "$tmp/skopeo.digest" \
  "oci:${layout[gzip]}:bench" "docker://$ndest" 2>"$tmp/noop-skopeo-first.err" ||
  { cat "$tmp/noop-skopeo-first.err" >&2; die "skopeo copy (re-push registry) failed"; }
skopeo_digest=$(cat "$tmp/skopeo.digest")

noop_cmd_stowage="$stowage push ${img[gzip]} $ndest --cache-dir $tmp/noop-cache"
noop_cmd_skopeo="skopeo copy -q --dest-tls-verify=false oci:${layout[gzip]}:bench docker://$ndest"
# 101 HEADs, one after another on one keep-alive connection: the floor a client could reach sequentially
blob_urls=$(jq -r --arg u "http://127.0.0.1:$nport/v2/large/blobs/" '.layers[] | "\($u)\(.digest)"' "$tmp/noop-first.json" | tr '\n' ' ')
blob_urls+="http://127.0.0.1:$nport/v2/large/blobs/$(jq -r .config.digest "$tmp/noop-first.json")"

# noop NAME COMMAND: NOOP_RUNS timed runs (2 warm-up) against the same registry;
# the registry's CPU time per run from /proc
noop() {
  local name=$1 b o w r0 r1 rcpu; shift
  wait_quiet
  say "measuring $name ($noop_runs runs)"
  snap; b=$snap_busy o=$snap_own w=$snap_wall
  r0=$(registry_cpu "$rn")
  timeout "$limit" hyperfine -N --warmup 2 --runs "$noop_runs" --style basic --export-json "$tmp/$name.json" \
    "$*" >"$tmp/$name.out" 2>&1 ||
    { tail -n 20 "$tmp/$name.out" >&2; die "measurement '$name' failed or took over ${limit}s"; }
  r1=$(registry_cpu "$rn")
  rcpu=$(calc "%.2f" "$r1 - $r0")
  calc "%.4f" "$rcpu / ($noop_runs + 2)" >"$tmp/$name.regcpu"
  others_pct "$b" "$o" "$w" "$rcpu" >"$tmp/$name.others"
}
noop noop_stowage "$noop_cmd_stowage"
noop noop_stowage_j8 "$noop_cmd_stowage --jobs 8"
noop noop_stowage_notls "$noop_cmd_stowage --tls-verify=false"
noop noop_skopeo "$noop_cmd_skopeo"
noop ref_curl_heads "curl -s -I $blob_urls"
noop ref_version "$stowage --version"

# requests and connections of one re-push each (log lines between two markers)
count_one() {
  local name=$1 from; shift
  sync_log "$rn"; from=$(wc -l <"$rn/registry.log")
  if [ "$have_strace" = 1 ]; then
    timeout 120 strace -f -qq -e trace=connect -o "$tmp/$name.connects" "$@" >/dev/null 2>&1 || die "$name: one re-push failed"
  else
    timeout 120 "$@" >/dev/null 2>&1 || die "$name: one re-push failed"
  fi
  sync_log "$rn"
  requests "$rn" "$from" >"$tmp/$name.requests"
}
count_one noop_stowage $noop_cmd_stowage
count_one noop_stowage_notls $noop_cmd_stowage --tls-verify=false
count_one noop_skopeo $noop_cmd_skopeo
connects() {
  [ "$have_strace" = 1 ] || { echo "?"; return; }
  grep -c 'connect(.*sin_port=htons('"$nport"')' "$tmp/$1.connects" || true
}
# Content of a re-push beyond HEAD per blob + manifest PUT (+ the GET /v2/ ping)?
extra_requests() { awk '!($1 == "HEAD" && $2 ~ /\/(blobs|manifests)\//) && !($1 == "PUT" && $2 ~ /\/manifests\//) && !($1 == "GET" && $2 == "/v2/")' "$tmp/$1.requests" | wc -l; }

# --- where the time goes (one extra run each, not timed) ------------------------------
# perf: which libraries stowage's CPU time is spent in; strace -c: syscalls
perf_dso() {   # NAME COMMAND...: the top 6 DSOs of COMMAND's samples, one line
  local name=$1; shift
  timeout 300 perf record -q -F 1999 -o "$tmp/$name.perf" -- "$@" >/dev/null 2>&1 || { echo "(perf failed)"; return; }
  perf report -i "$tmp/$name.perf" --no-children --sort dso --stdio 2>/dev/null |
    awk '!/^#/ && NF >= 2 { printf "%s%s %s", s, $1, $2; s = ", "; if (++n == 6) exit }'
}
strace_top() {   # NAME COMMAND...: strace -c -f, the top 6 syscalls by time
  local name=$1; shift
  timeout 300 strace -c -f -o "$tmp/$name.strace" "$@" >/dev/null 2>&1 || { echo "(strace failed)"; return; }
  awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { printf "%s%s %s s/%s calls", s, $NF, $2, $4; s = "; "; if (++n == 6) exit }' "$tmp/$name.strace"
}
# strace_sends NAME COMMAND...: the send side of a push, one line: sendto
# calls and their bytes (against the bytes the push delivers), the share of
# sends of at most 512 bytes, and the socketpairs made
strace_sends() {
  local name=$1 pushed=$2; shift 2
  timeout 300 strace -f -qq -e trace=sendto,socketpair -o "$tmp/$name.strace" "$@" >/dev/null 2>&1 || { echo "(strace failed)"; return; }
  awk -v pushed="$pushed" '
    /socketpair\(/ { sp++ }
    /sendto\(/ && !/unfinished/ { v = $NF } /sendto resumed/ { v = $NF }
    (/sendto\(/ && !/unfinished/) || /sendto resumed/ { if (v ~ /^[0-9]+$/) { n++; b += v; if (v <= 512) small++ } }
    END { printf "%d sendto calls carrying %.0f MB = %.2f x the %.0f MB pushed, %.0f%% of them <= 512 bytes (mean %.0f bytes); %d socketpairs", n, b / 1e6, b / pushed, pushed / 1e6, 100 * small / n, b / n, sp }' "$tmp/$name.strace"
}
if command -v perf >/dev/null && perf record -q -o "$tmp/probe.perf" -- true >/dev/null 2>&1; then have_perf=1; fi
say "one more run of a few pushes under perf / strace"
declare -A look
if [ "$have_perf" = 1 ]; then
  fresh "$rc"; look[perf_cold_none]=$(perf_dso perf_cold_none "$stowage" push "${img[none]}" "$dest" --cache-dir "$rc/cache")
  fresh "$rc" "$tmp/build-cache/blobs"; look[perf_cold_gzip]=$(perf_dso perf_cold_gzip "$stowage" push "${img[gzip]}" "$dest" --cache-dir "$rc/cache")
  look[perf_noop]=$(perf_dso perf_noop $noop_cmd_stowage)
  look[perf_noop_notls]=$(perf_dso perf_noop_notls $noop_cmd_stowage --tls-verify=false)
fi
if [ "$have_strace" = 1 ]; then
  fresh "$rc"; look[strace_cold_none]=$(strace_top strace_cold_none "$stowage" push "${img[none]}" "$dest" --cache-dir "$rc/cache")
  fresh "$rc"; look[sends_cold_none]=$(strace_sends sends_cold_none "${bytes[none]}" "$stowage" push "${img[none]}" "$dest" --cache-dir "$rc/cache")
  look[strace_noop]=$(strace_top strace_noop $noop_cmd_stowage)
fi
stop_registry "$rc"
drain_rc

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
other_pct=$(others_pct "$run_busy" "$run_own" "$run_wall" "$(calc "%.2f" "$reg_cpu_total + $(registry_cpu "$rn")")")
stop_registry "$rn"
warnings=$(cd "$tmp" && grep -H -i 'warning' ./*.out 2>/dev/null | sed 's|^\./\(.*\)\.out:|\1: |' || true)

# --- figures --------------------------------------------------------------------------
MB=1000000
mbs() { calc "%.0f" "${bytes[$1]} / $(median "$2") / $MB"; }
oth() { echo "$(cat "$tmp/$1.others")%"; }
regc() { calc "%.2f" "$(cat "$tmp/$1.regcpu")"; }
cli() { calc "%.2f" "$(client_cpu "$1")"; }
# share of the machine (nproc x wall) that client + registry kept busy
busy() { calc "%.0f" "100 * ($(client_cpu "$1") + $(cat "$tmp/$1.regcpu")) / ($ncpu * $(median "$1"))"; }
ratio() { calc "%.2f" "$(median "$1") / $(median "$2")"; }   # A / B
reqs() { req_summary <"$tmp/$1.requests"; }
row() { printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$@"; }
crow() {   # NAME COMPRESSION LABEL NOTES
  row "$3" "$(fmt "$1")" "$(spread "$1")" "$(oth "$1")" "$(mbs "$2" "$1")" "$(cli "$1")" "$(regc "$1")" "$(busy "$1")%" "$4"
}
r_gzip=$(ratio cold_skopeo_gzip cold_stowage_gzip)
r_gzip_j8=$(ratio cold_skopeo_gzip cold_stowage_gzip_j8)
r_gzip_nocache=$(ratio cold_skopeo_gzip cold_stowage_gzip_nocache)
r_none=$(ratio cold_skopeo_none cold_stowage_none)
r_none_j8=$(ratio cold_skopeo_none cold_stowage_none_j8)
verdict() { awk -v r="$1" 'BEGIN { print (r >= 1.5) ? "meets the 1.5x target" : "below the 1.5x target" }'; }

cold_table() {
  row "cold push ($nlayers layers)" "median s" "min-max s" "others' CPU" "MB/s" "client CPU s" "registry CPU s" "machine busy" "notes"
  row "---" "---:" "---:" "---:" "---:" "---:" "---:" "---:" "---"
  crow cold_stowage_gzip gzip "**stowage push, gzip** (--jobs 4, default; the build's blobs cached)" "**skopeo/stowage $r_gzip** ($(verdict "$r_gzip")); sends the blobs the build compressed, as skopeo sends the layout's; requests: $(reqs cold_stowage_gzip)"
  crow cold_stowage_gzip_j8 gzip "stowage push, gzip, --jobs 8 (blobs cached)" "skopeo/stowage $r_gzip_j8; $(ratio cold_stowage_gzip_j8 cold_stowage_gzip) x --jobs 4"
  crow cold_stowage_gzip_nocache gzip "stowage push, gzip, blobs not cached (compresses at push time)" "skopeo/stowage $r_gzip_nocache; $(ratio cold_stowage_gzip_nocache cold_stowage_gzip) x with the blobs cached"
  crow cold_skopeo_gzip gzip "skopeo copy oci: (gzip layout)" "requests: $(reqs cold_skopeo_gzip)"
  crow cold_stowage_none none "**stowage push, none** (--jobs 4, default)" "**skopeo/stowage $r_none** ($(verdict "$r_none")); requests: $(reqs cold_stowage_none)"
  crow cold_stowage_none_j8 none "stowage push, none, --jobs 8" "skopeo/stowage $r_none_j8; $(ratio cold_stowage_none_j8 cold_stowage_none) x --jobs 4"
  crow cold_skopeo_none none "skopeo copy --preserve-digests oci: (none layout)" "requests: $(reqs cold_skopeo_none)"
  crow cold_skopeo_none_default none "skopeo copy oci: (none layout), default options" "gzips every layer on the way (other digests); MB/s of the uncompressed image; $(ratio cold_skopeo_none_default cold_stowage_none) x stowage none"
}
nrow() {   # NAME LABEL NOTES
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$(fmt_ms "$1")" "$(jq -r '.results[0] | "\(.min*1000|round)-\(.max*1000|round)"' "$tmp/$1.json")" \
    "$(oth "$1")" "$(calc "%.0f" "1000 * $(client_cpu "$1")")" "$(calc "%.0f" "1000 * $(cat "$tmp/$1.regcpu")")" "$3"
}
noop_table() {
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "no-op re-push ($nlayers layers)" "median ms" "min-max ms" "others' CPU" "client CPU ms" "registry CPU ms" "notes"
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "---" "---:" "---:" "---:" "---:" "---:" "---"
  nrow noop_stowage "**stowage push** (--jobs 4, default)" "**requests: $(reqs noop_stowage)**, $(extra_requests noop_stowage) beyond HEADs + manifest PUT + ping; TCP connections: $(connects noop_stowage); target < 300 ms"
  nrow noop_stowage_j8 "stowage push --jobs 8" "$(ratio noop_stowage_j8 noop_stowage) x --jobs 4"
  nrow noop_stowage_notls "stowage push --tls-verify=false" "requests: $(reqs noop_stowage_notls); TCP connections: $(connects noop_stowage_notls); $(ratio noop_stowage_notls noop_stowage) x default"
  nrow noop_skopeo "skopeo copy oci: (gzip layout)" "requests: $(reqs noop_skopeo); TCP connections: $(connects noop_skopeo); **skopeo/stowage $(ratio noop_skopeo noop_stowage)**"
  nrow ref_curl_heads "reference: curl, the $((nlayers + 1)) HEADs in sequence on one connection" "$(calc "%.2f" "1000 * $(median ref_curl_heads) / ($nlayers + 1)") ms per HEAD"
  nrow ref_version "reference: stowage --version" "process start-up (dynamic linking)"
}

cold_table >"$tmp/cold.md"
noop_table >"$tmp/noop.md"
{
  echo
  echo "image: $nlayers layers; a push sends $(calc "%.0f" "${bytes[gzip]} / $MB") MB (gzip) / $(calc "%.0f" "${bytes[none]} / $MB") MB (none)"
  echo
  cat "$tmp/cold.md"
  echo
  cat "$tmp/noop.md"
  echo
  echo "other processes used ~$other_pct% of the machine's CPU during the run"
} >&2

look_lines() {
  local k label
  for k in perf_cold_none perf_cold_gzip perf_noop perf_noop_notls strace_cold_none sends_cold_none strace_noop; do
    [ -n "${look[$k]:-}" ] || continue
    case $k in
    perf_cold_none) label="perf, stowage CPU by library, cold push (none)" ;;
    perf_cold_gzip) label="perf, stowage CPU by library, cold push (gzip, the build's blobs cached)" ;;
    perf_noop) label="perf, stowage CPU by library, no-op re-push" ;;
    perf_noop_notls) label="perf, stowage CPU by library, no-op re-push with --tls-verify=false" ;;
    strace_cold_none) label="strace -c -f, cold push (none), top syscalls by time" ;;
    sends_cold_none) label="strace -f -e trace=sendto,socketpair, cold push (none), stowage" ;;
    strace_noop) label="strace -c -f, no-op re-push, top syscalls by time" ;;
    esac
    echo "- $label: ${look[$k]}"
  done
}

# notes on the figures of this run
with_export=$(calc "%.2f" "${export_s[gzip]} + $(median cold_skopeo_gzip)")
# jobs_note: what the --jobs 8 ratios say, if they say something
jobs_note() {
  awk -v g="$(ratio cold_stowage_gzip_j8 cold_stowage_gzip)" -v n="$(ratio cold_stowage_none_j8 cold_stowage_none)" \
      -v o1="$(cat "$tmp/cold_stowage_gzip.others")" -v o2="$(cat "$tmp/cold_stowage_gzip_j8.others")" \
      -v o3="$(cat "$tmp/cold_stowage_none.others")" -v o4="$(cat "$tmp/cold_stowage_none_j8.others")" -v c="$ncpu" 'BEGIN {
    if (o1 + 0 > 10 || o2 + 0 > 10 || o3 + 0 > 10 || o4 + 0 > 10) print " (other processes took over 10% of the CPU in one of these rows: read the ratios with care)"
    else if (g > 0.9 && g < 1.1 && n > 0.9 && n < 1.1) print ": no gain, with " c " cores there is no idle CPU for more parallel layers"
    else print "" }'
}
per_gb() { calc "%.1f" "$(cat "$tmp/$1.regcpu") / (${bytes[$2]} / 1e9)"; }
notes() {
  cat <<EOF
- **gzip, skopeo/stowage $r_gzip ($(verdict "$r_gzip"))**: the cold push sends the blobs the build
  already compressed (\`stowage build\` keeps them in the cache's blobs/; each timed push starts
  from a hard-linked copy of them and no record of pushed blobs), exactly as skopeo sends the
  OCI layout's precompressed blobs: both read, hash and send (client CPU: stowage
  $(cli cold_stowage_gzip) s, skopeo $(cli cold_skopeo_gzip) s).
- **gzip, blobs not cached, skopeo/stowage $r_gzip_nocache**: from an empty cache stowage deflates
  every layer again while it pushes (client CPU $(cli cold_stowage_gzip_nocache) s, mostly libz) and
  keeps the blobs for the next push; skopeo's layout was made by the untimed \`stowage copy\`
  (that export took ${export_s[gzip]} s; export + skopeo push = $with_export s,
  $(calc "%.2f" "$with_export / $(median cold_stowage_gzip_nocache)") x this push). zlib level 4 (was 6) halves the deflate work
  on real binaries, but the bench closure's binaries are random bytes, where every level costs
  about the same; \`--compression zstd\` is several times cheaper (bench/RESULTS.md, "Compression").
- **none, skopeo/stowage $r_none ($(verdict "$r_none"))**: the same bytes go over the wire.
  stowage uses $(cli cold_stowage_none) s of CPU per push, skopeo $(cli cold_skopeo_none) s. The registry
  needs about $(per_gb cold_stowage_none none) CPU-s per GB it receives (hashing and writing the blobs:
  $(regc cold_stowage_none) s per stowage push) and shares the $ncpu cores with the client: "machine busy"
  near 100% means the push is CPU-bound on this machine, so the client's CPU time decides
  the ratio. With the registry on another machine the ratio would be different.
- \`--jobs 8\` takes $(ratio cold_stowage_gzip_j8 cold_stowage_gzip) x (gzip) and $(ratio cold_stowage_none_j8 cold_stowage_none) x (none) the time of
  the default 4 jobs$(jobs_note).
- stowage's upload path: a producer thread writes the synthesised tar into an AF_UNIX
  socketpair (one per layer upload) and curl's read callback \`recv()\`s from it into
  the HTTP (chunked) PATCH, 512 KiB at a time (\`CURLOPT_UPLOAD_BUFFERSIZE\`). The producer
  gathers the stream into 256 KiB sends (before: one send per tar header and padding, 45% of
  the sends <= 512 bytes): see the strace line below.
- skopeo HEADs each blob twice in a cold push (see the request counts), stowage once.
- **No-op re-push: median $(fmt_ms noop_stowage) ms, $(reqs noop_stowage) requests for $nlayers layers**: the
  \`GET /v2/\` ping and one HEAD of the tag's manifest: it names the digest of the manifest
  stowage would push, so the registry holds every blob it lists (it accepted the manifest) and
  no blob is checked, nor the manifest PUT again. Before this: a HEAD per blob + the manifest
  PUT (103 requests, 121 ms). curl sending one HEAD per blob on one connection takes
  $(fmt_ms ref_curl_heads) ms: what checking the blobs one by one would cost. Per re-push the registry uses
  $(calc "%.0f" "1000 * $(cat "$tmp/noop_stowage.regcpu")") ms of CPU, stowage $(calc "%.0f" "1000 * $(client_cpu noop_stowage)") ms.
- On loopback stowage now pings plain HTTP first (before: HTTPS first, which loaded the
  system CA bundle, a third of the re-push's CPU, before falling back); a TLS registry on
  loopback answers the plain request with an error and gets HTTPS. \`--tls-verify=false\`
  takes $(fmt_ms noop_stowage_notls) ms ($(connects noop_stowage_notls) connections).
- skopeo's re-push makes the same $(reqs noop_skopeo) requests but opens $(connects noop_skopeo) TCP
  connections (about one per request) and uses $(calc "%.2f" "$(client_cpu noop_skopeo)") s of CPU: $(ratio noop_skopeo noop_stowage) x stowage's time.
EOF
}

stowage_cmd_doc="build/stowage push IMG.json 127.0.0.1:PORT/large:1 --cache-dir DIR [--jobs 8]"
{
  cat <<EOF
# Benchmark results: stowage push to a local registry

Written by \`bench/push.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC')); every number comes from that one run,
and every ratio compares two rows of it. Cold pushes: medians of $runs runs, each against a
new, empty registry. No-op re-pushes: medians of $noop_runs runs (after 2 warm-up runs).
Speed targets are reported here, never asserted in a test.

## Machine and tools

- CPU: $cpu, \`nproc\` = $ncpu; memory: $mem; kernel $(uname -r)
- $("$stowage" --version) (\`$stowage_src\`, tree at $rev)
- $(skopeo --version)
- $(docker-registry --version 2>&1 | head -n 1) (CNCF distribution), filesystem storage
- $(hyperfine --version); $(curl --version | head -n 1 | cut -d' ' -f1-2)

## Input

\`bench/large-closure.nix\` at scale $scale (GC root \`$link\`): $(calc "%.0f" "$file_bytes / $MB") MB of files,
in the page cache (one \`cat\` over every file first). Two images of it, $nlayers layers each (default layering):

- \`stowage build ROOT --arch amd64 --compression gzip -o img-gzip.json\`: a push sends ${bytes[gzip]} bytes (layers + config);
- the same with \`--compression none\`: ${bytes[none]} bytes.

Each was exported once, untimed, with \`stowage copy IMG.json oci:DIR:bench\` (gzip: ${export_s[gzip]} s,
none: ${export_s[none]} s); skopeo pushes from these layouts. Scratch space (layouts, registry
storage) is on $base_fs (\`$base\`), so the registry's writes do not wait for a disk.

## Results

### Cold push of the large image

$(cat "$tmp/cold.md")

### No-op re-push of the same $nlayers-layer image (gzip) to the same registry

$(cat "$tmp/noop.md")

## What was run

- Registry: \`docker-registry serve config.yml\` on 127.0.0.1 (a free port), plain HTTP, no auth,
  filesystem storage in the scratch directory, access log on (log level warn). For the cold rows,
  hyperfine's \`--prepare\` stops the registry, deletes its storage and the stowage \`--cache-dir\`
  (for the gzip rows with cached blobs: then hard-links the build cache's blobs/ into it),
  starts a new one and waits until it answers \`GET /v2/\`: every timed push meets an empty
  registry. After the last run the script checks it: the manifest \`large:1\` is there and
  $((nlayers + 1)) blob uploads were completed (so no blob was skipped or mounted).
- stowage: \`$stowage_cmd_doc\`. For the gzip rows (but the one "not cached"), DIR holds
  the compressed blobs \`stowage build\` kept (a hard-linked copy of blobs/, no record of
  pushed blobs): the push **reads, hashes and sends those blobs**, as skopeo does the layout's.
  Otherwise (none, and gzip "not cached", from an empty DIR) it **synthesises every layer from
  the store while it uploads it** (tar, compression, sha256 on the fly), so its time includes all
  of the layer making; for gzip that is the whole deflate work again.
- skopeo: \`skopeo copy -q --dest-tls-verify=false oci:DIR:bench docker://127.0.0.1:PORT/large:1\`.
  skopeo **reads the pre-made OCI layout**: the blobs exist already, so it only reads,
  verifies and sends them. The export took ${export_s[gzip]} s (gzip) / ${export_s[none]} s (none) above,
  untimed. For the uncompressed image skopeo needs \`--preserve-digests\`: by default it gzips
  uncompressed layers on the way to a registry (the "default options" row, which pushes a
  different image). skopeo runs as root here, so it keeps its blob-info cache in
  /var/lib/containers/cache (its normal place, outside the scratch directory); every push goes
  to the same repository name, so that cache names no other repository to mount from (the
  request counts show one POST per blob: no mount attempts).
- MB/s = bytes a push sends (layers + config; 1 MB = 10^6 bytes) / median time.
  "client CPU s": user + system of the pushing process (hyperfine's mean); "registry CPU s":
  CPU time of the docker-registry process per push (from /proc; the cold rows: the median over
  the runs' registries, including their start-up); "machine busy": (client + registry CPU) /
  ($ncpu x wall) - near 100% means the push is CPU-bound on this machine, client and registry
  sharing its $ncpu cores.
- "requests": access-log lines of the registry; cold rows: the last run; re-push rows: one extra
  run between two marker requests. "TCP connections": \`connect()\` calls to the registry's port
  (\`strace -f -e trace=connect\`, one extra run).
- Re-push: the registry got the gzip image from one stowage push (\`--cache-dir\` kept for the
  re-pushes) and one skopeo push of the same layout (manifest digests: stowage $stowage_digest,
  skopeo $skopeo_digest$([ "$stowage_digest" = "$skopeo_digest" ] && echo ", identical" || echo ", different: each re-push re-points the tag")).
- "others' CPU": the share of the machine's CPU time (nproc x wall) that other processes used
  during that measurement (busy time in /proc/stat minus this script's own and the registry's).
  Before each measurement the script waits up to ${quiet_wait} s for 2 quiet seconds. Over the
  whole run others used $other_pct%; load average at the start $load_before, at the end $load_after.
$(if [ -n "$warnings" ]; then echo "- hyperfine warnings:"; echo "$warnings" | sed 's/^/  - /'; fi)

## Where the time goes (one extra run each, untimed)

$(look_lines)

## Notes

$(notes)

## Commands

    make bench                            # = make all, then bash bench/run.sh, which ends with bench/push.sh
    bash bench/push.sh                    # the push benchmark alone (after make)
    SCALE=10 RUNS=3 NOOP_RUNS=10 bash bench/push.sh   # ~100 MB closure; writes build/bench/PUSH-RESULTS-s10.md
EOF
} >"$results"
say "wrote $results"
# the figures bench/run.sh puts in its targets table
if [ -n "${FIGURES:-}" ]; then
  {
    echo "push_none_ratio=$r_none"
    echo "push_gzip_ratio=$r_gzip"
    echo "push_gzip_nocache_ratio=$r_gzip_nocache"
    echo "push_none_s=$(fmt cold_stowage_none)"
    echo "push_skopeo_none_s=$(fmt cold_skopeo_none)"
    echo "noop_ms=$(fmt_ms noop_stowage)"
    echo "noop_requests=$(wc -l <"$tmp/noop_stowage.requests")"
    echo "noop_skopeo_ms=$(fmt_ms noop_skopeo)"
    echo "push_layers=$nlayers"
  } >>"$FIGURES"
fi
