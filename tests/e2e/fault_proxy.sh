# tests/e2e/fault_proxy.sh: fault_proxy.py instances for the 9x reliability
# scripts (source after lib.sh and registry.sh).
#
#   fproxy_start NAME UPSTREAM RULES-JSON
#       a fault_proxy.py on a free port of 127.0.0.1 in front of UPSTREAM
#       (127.0.0.1:PORT) with these rules, killed on exit; sets P=127.0.0.1:PORT
#       and PLOG (its log: one JSON object per request, see fault_proxy.py)
#   fplog JQ-FILTER [JQ ARGS...]      the filter over PLOG as one array
#   fplog_true WHAT JQ-FILTER [ARGS]  the filter gives true; else shows the log on stderr
#   max_rss_kb CMD...                  runs CMD (output to $OUT/$ERR) and prints its peak RSS in KiB
FAULT_PROXY_PY=$TOP/tests/e2e/fault_proxy.py
fproxy_start() {
	local d=$SCRATCH/proxy-$1
	mkdir -p "$d" && printf '%s\n' "$3" >"$d/rules.json" || return
	timeout -k 5 400 /usr/bin/python3 "$FAULT_PROXY_PY" --upstream "$2" --port-file "$d/port" --log "$d/proxy.log" \
		--rules "$d/rules.json" --lifetime 400 >"$d/out" 2>&1 </dev/null &
	echo $! >"$d/pid"
	at_exit "_registry_kill $d/pid"
	_registry_wait_port "$d/port" || { cat "$d/out" >&2; echo "fault_proxy.py did not start" >&2; return 1; }
	P=127.0.0.1:$(cat "$d/port") PLOG=$d/proxy.log
}
fplog() { local q=$1; shift; jq -s -c "$@" "$q" "$PLOG"; }
fplog_true() {
	local what=$1 got; shift
	got=$(fplog "$@" 2>&1 | tail -n 1)
	[ "$got" = true ] && return 0
	echo "$what: jq gives '$got'; proxy log: $(jq -r '[.method, (.target | .[0:60]), .status, .body_bytes,
		(.authorization // "-"), (.fault // "-" | .[0:40])] | map(tostring) | join(" ")' "$PLOG" | tail -n 12 |
		paste -sd ';' | head -c 1200)" >&2
	return 1
}
max_rss_kb() {
	local st=0
	/usr/bin/time -f '%M' -o "$SCRATCH/.rss" "$@" >"$OUT" 2>"$ERR" </dev/null || st=$?
	tail -n 1 "$SCRATCH/.rss"
	return "$st"
}
