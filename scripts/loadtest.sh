#!/usr/bin/env bash
# loadtest.sh measures Keywarden over HTTP next to a bare Go net/http
# server on the same machine, in one run, and prints every figure as a
# ratio of the bare server's (see docs/performance.md):
#
#   (a)  a bare net/http server answering "ok"        (cmd/loadtest-bare)
#   (b)  GET /api/v1/me with a valid key               (the cache's hit path)
#   (b2) the same with a key that has an IP allowlist (3 networks) and a
#        rate limit (never reached): what both cost on the hot path
#   (c1) POST /api/v1/keys/verify, a valid process key with its scope and process
#   (c2) /api/v1/auth/forward as nginx calls it, the same key and requirement
#   (d1) GET /api/v1/me with unknown keys taken round-robin from a pool of 1000
#   (d2) GET /api/v1/me with a different unknown key on every request
#   (e)  nginx -> the bare server, no authentication    (skipped without nginx)
#   (f)  nginx -> forward-auth -> the bare server       (skipped without nginx)
#   (e1), (f1) the same over one connection: latency without queueing
#
# (f) against (e) is what putting Keywarden's forward-auth in front of a
# service costs in req/s when the machine is saturated; (f1) against (e1)
# is the latency it adds to one request.
#
# For (d1) and (d2) it scrapes /metrics before a 1 s warm-up, after it and
# after the measured run, and prints the store lookups per request
# (keywarden_store_queries_total{op="FindAPIKeyByUser"} over
# keywarden_http_requests_total of the route), over the whole run and after
# the first second.
#
# Usage: scripts/loadtest.sh [-n KEYS] [-k UNKNOWN] [-d DURATION]
#   -n  keys stored in the database            (env LOADTEST_KEYS, default 100000)
#   -k  unknown keys generated for (d1)/(d2)   (env LOADTEST_UNKNOWN, default 900000:
#       (d2) must not run out of distinct keys; it reports it if it does)
#   -d  duration of each measured wrk run      (env LOADTEST_DURATION, default 10s)
# Needs go, wrk (apt-get install wrk) and curl, and nginx for (e) and (f).
# It takes about two minutes.
set -euo pipefail

keys=${LOADTEST_KEYS:-100000}
unknown=${LOADTEST_UNKNOWN:-900000}
duration=${LOADTEST_DURATION:-10s}
threads=1
conns=32
pool=1000        # (d1)'s pool of unknown keys
warmkeys=100000  # (d2)'s warm-up keys, kept apart from its measured ones

while getopts "n:k:d:h" opt; do
	case $opt in
	n) keys=$OPTARG ;;
	k) unknown=$OPTARG ;;
	d) duration=$OPTARG ;;
	*)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 2
		;;
	esac
done

for tool in go wrk curl; do
	command -v "$tool" >/dev/null || {
		echo "loadtest: $tool not found" >&2
		exit 1
	}
done
if ((unknown < pool + warmkeys + 1)); then
	echo "loadtest: -k must be more than $((pool + warmkeys))" >&2
	exit 2
fi

cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keywarden-loadtest.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server must not pick up the caller's configuration (a
# KEYWARDEN_DATABASE_URL would point it at PostgreSQL).
while read -r v; do unset "$v"; done < <(compgen -e | grep '^KEYWARDEN_' || true)

# freeport prints a TCP port nothing on 127.0.0.1 listens on.
freeport() {
	local port
	while :; do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
}

# waitfor URL PID: wait until URL answers, or fail if PID died.
waitfor() {
	local i
	for i in $(seq 1 200); do
		curl -sf -o /dev/null "$1" && return 0
		kill -0 "$2" 2>/dev/null || {
			echo "loadtest: server for $1 exited" >&2
			return 1
		}
		sleep 0.05
	done
	echo "loadtest: $1 did not come up" >&2
	return 1
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== build"
go build -o "$tmp/keywarden" ./cmd/keywarden
go build -o "$tmp/bare" ./cmd/loadtest-bare
go build -o "$tmp/seed" ./cmd/loadtest-seed

echo "== seed $keys keys, $unknown unknown keys"
data=$tmp/data
"$tmp/seed" -data-dir "$data" -n "$keys" -unknown "$unknown"

bare_addr=127.0.0.1:$(freeport)
"$tmp/bare" -addr "$bare_addr" 2>"$tmp/bare.log" &
bare_pid=$!
pids+=("$bare_pid")
waitfor "http://$bare_addr/" "$bare_pid"

kw_addr=127.0.0.1:$(freeport)
# Log level warn: at info, every request (and every refused key) writes a
# log line, and a flood of refused keys would measure the log, not the
# verification.
pid=$(tr -d '\n' <"$data/process.id")
pkey=$(tr -d '\n' <"$data/process.key")
pkey_auth="Basic $(printf '%s' "$pkey" | base64 -w0)"
files=/v1/processes/$pid/files
cat >"$tmp/routes.yaml" <<EOF
routes:
  - route: GET /v1/processes/{processId}/files
    scopes: [workspace.file:download]
    process: processId
EOF
# Throttling of failed authentication off: (d1) and (d2) flood refused keys
# from this one address on purpose, to measure what refusing costs, not
# what a 429 costs.
"$tmp/keywarden" serve --addr "$kw_addr" --data-dir "$data" --log-level warn --routes "$tmp/routes.yaml" \
	--auth-failures-per-minute 1000000000 2>"$tmp/keywarden.log" &
kw_pid=$!
pids+=("$kw_pid")
waitfor "http://$kw_addr/healthz" "$kw_pid"
kw=http://$kw_addr

# The Lua script for (d1) and (d2): requests built once in init from lines
# first..first+count-1 of a file of Authorization values, then sent
# round-robin. done() reports whether the pool ran out and repeated.
cat >"$tmp/pool.lua" <<'EOF'
reqs, pool, sent = {}, 0, 0
function init(args)
	local path, first, count = args[1], tonumber(args[2]), tonumber(args[3])
	local n = 0
	for line in io.lines(path) do
		n = n + 1
		if n >= first then
			pool = pool + 1
			reqs[pool] = wrk.format("GET", "/api/v1/me", { ["Authorization"] = line })
			if pool >= count then break end
		end
	end
end
function request()
	sent = sent + 1
	return reqs[(sent - 1) % pool + 1]
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
	for _, t in ipairs(threads) do
		local s, p = t:get("sent"), t:get("pool")
		local note = "no key repeated"
		if s > p then note = string.format("keys repeated, each sent %.0f times on average", s / p) end
		io.write(string.format("pool: %d requests sent from a pool of %d keys: %s\n", s, p, note))
	end
end
EOF

# cputicks PID: the CPU time a process and its children (nginx's workers)
# have used so far, in clock ticks.
cputicks() {
	local p children
	children=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
	for p in "$1" $children; do
		awk '{ print $14 + $15 }' "/proc/$p/stat"
	done | awk '{ t += $1 } END { print t }'
}

# bench NAME PID WRK-ARGS...: one measured wrk run against the server PID,
# its output kept in $tmp/NAME.txt, the CPU seconds of the server and of
# wrk during it in $tmp/NAME.cpu. The arguments end with the URL and the
# script's arguments.
bench() {
	local name=$1 pid=$2 t0 t1 TIMEFORMAT='%U %S'
	shift 2
	t0=$(cputicks "$pid")
	{ time wrk -t"$threads" -c"$conns" -d"$duration" --latency "$@" >"$tmp/$name.txt"; } 2>"$tmp/$name.time"
	t1=$(cputicks "$pid")
	tail -n1 "$tmp/$name.time" | awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '{ print t / hz, $1 + $2 }' >"$tmp/$name.cpu"
}

# warm NAME WRK-ARGS...: the 1 s run before a measured one.
warm() {
	local name=$1
	shift
	wrk -t"$threads" -c"$conns" -d1s "$@" >"$tmp/$name.warm.txt"
}

# scrape: FindAPIKeyByUser lookups, requests to /api/v1/me and all store
# queries so far, from /metrics.
scrape() {
	curl -sf "$kw/metrics" | awk '
		index($0, "keywarden_store_queries_total{op=\"FindAPIKeyByUser\"} ") == 1 { q += $NF }
		index($0, "keywarden_store_queries_total{") == 1 { all += $NF }
		index($0, "keywarden_http_requests_total{") == 1 && index($0, "route=\"GET /api/v1/me\"") { r += $NF }
		END { printf "%d %d %d\n", q, r, all }'
}

# field NAME: req/s, p50 and p99 (in ms) of a wrk run.
field() {
	awk '
		function ms(v) {
			if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
			if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
			if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
			return v + 0
		}
		$1 == "50%" { p50 = ms($2) }
		$1 == "99%" { p99 = ms($2) }
		$1 == "Requests/sec:" { rps = $2 }
		$2 == "requests" && $3 == "in" { n = $1 }
		END { printf "%s %s %s %s\n", rps, p50, p99, n }' "$tmp/$1.txt"
}

echo "== (a) bare net/http server, GET /"
bench a "$bare_pid" "http://$bare_addr/"

echo "== (b) GET /api/v1/me with a valid key"
valid_auth="Basic $(tr -d '\n' <"$data/valid.key" | base64 -w0)"
warm b -H "Authorization: $valid_auth" "$kw/api/v1/me"
bench b "$kw_pid" -H "Authorization: $valid_auth" "$kw/api/v1/me"
if grep -q "Non-2xx" "$tmp/b.txt"; then
	echo "loadtest: (b) got responses other than 200:" >&2
	grep "Non-2xx" "$tmp/b.txt" >&2
	exit 1
fi

echo "== (b2) GET /api/v1/me with a key that has an allowlist and a rate limit"
restricted_auth="Basic $(tr -d '\n' <"$data/restricted.key" | base64 -w0)"
warm b2 -H "Authorization: $restricted_auth" "$kw/api/v1/me"
bench b2 "$kw_pid" -H "Authorization: $restricted_auth" "$kw/api/v1/me"
if grep -q "Non-2xx" "$tmp/b2.txt"; then
	echo "loadtest: (b2) got responses other than 200:" >&2
	grep "Non-2xx" "$tmp/b2.txt" >&2
	exit 1
fi

echo "== (c1) POST /api/v1/keys/verify with a valid process key"
verify_body="{\"key\":\"$pkey\",\"scopes\":[\"workspace.file:upload\"],\"processId\":\"$pid\"}"
curl -sf -H 'Content-Type: application/json' -d "$verify_body" "$kw/api/v1/keys/verify" | grep -q '"code":"VALID"' || {
	echo "loadtest: (c1) the verify API did not answer VALID" >&2
	exit 1
}
cat >"$tmp/verify.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$verify_body'
EOF
warm c1 -s "$tmp/verify.lua" "$kw/api/v1/keys/verify"
bench c1 "$kw_pid" -s "$tmp/verify.lua" "$kw/api/v1/keys/verify"

echo "== (c2) /api/v1/auth/forward with the same key, as nginx asks"
forward_headers=(-H "Authorization: $pkey_auth" -H "X-Original-Method: GET" -H "X-Original-URI: $files")
warm c2 "${forward_headers[@]}" "$kw/api/v1/auth/forward"
bench c2 "$kw_pid" "${forward_headers[@]}" "$kw/api/v1/auth/forward"
for name in c1 c2; do
	if grep -q "Non-2xx" "$tmp/$name.txt"; then
		echo "loadtest: ($name) got responses other than 200:" >&2
		grep "Non-2xx" "$tmp/$name.txt" >&2
		exit 1
	fi
done

# flood NAME FIRST COUNT WARMFIRST WARMCOUNT: a warm-up and a measured run
# of unknown keys, with /metrics scraped around both.
flood() {
	local name=$1
	read -r q0 r0 a0 < <(scrape)
	warm "$name" -s "$tmp/pool.lua" "$kw/api/v1/me" "$data/unknown.basic" "$4" "$5"
	read -r q1 r1 a1 < <(scrape)
	bench "$name" "$kw_pid" -s "$tmp/pool.lua" "$kw/api/v1/me" "$data/unknown.basic" "$2" "$3"
	read -r q2 r2 a2 < <(scrape)
	awk -v q0="$q0" -v r0="$r0" -v a0="$a0" -v q1="$q1" -v r1="$r1" -v a1="$a1" -v q2="$q2" -v r2="$r2" -v a2="$a2" 'BEGIN {
		printf "%.4f %.4f %d %d %d %.4f\n", (q2 - q0) / (r2 - r0), (q2 - q1) / (r2 - r1), q2 - q1, r2 - r1, a2 - a1, (a2 - a1) / (r2 - r1)
	}' >"$tmp/$name.queries"
	grep '^pool:' "$tmp/$name.txt" || true
	if grep -q "^  [0-9]* requests" "$tmp/$name.txt" && ! grep -q "Non-2xx" "$tmp/$name.txt"; then
		echo "loadtest: ($name) unknown keys were not refused" >&2
		exit 1
	fi
}

echo "== (d1) GET /api/v1/me, unknown keys round-robin from a pool of $pool"
flood d1 1 "$pool" 1 "$pool"

echo "== (d2) GET /api/v1/me, a different unknown key on every request"
flood d2 $((pool + warmkeys + 1)) "$unknown" $((pool + 1)) "$warmkeys"

# (e) and (f): nginx in front of the bare server, without and with
# forward-auth. One worker process, keep-alive to both upstreams, no
# access log: what is measured is the auth subrequest.
gateway=""
if command -v nginx >/dev/null; then
	gateway=yes
	ng_plain=127.0.0.1:$(freeport)
	ng_auth=127.0.0.1:$(freeport)
	mkdir -p "$tmp/nginx"
	cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
user root;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	upstream bare { server $bare_addr; keepalive 64; }
	upstream keywarden { server $kw_addr; keepalive 64; }
	server {
		listen $ng_plain;
		location / {
			proxy_pass http://bare;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
	server {
		listen $ng_auth;
		location / {
			auth_request /_keywarden;
			auth_request_set \$kw_key_id \$upstream_http_x_keywarden_key_id;
			auth_request_set \$kw_org_id \$upstream_http_x_keywarden_org_id;
			auth_request_set \$kw_process_id \$upstream_http_x_keywarden_process_id;
			auth_request_set \$kw_scopes \$upstream_http_x_keywarden_scopes;
			proxy_set_header X-Keywarden-Key-Id \$kw_key_id;
			proxy_set_header X-Keywarden-Org-Id \$kw_org_id;
			proxy_set_header X-Keywarden-Process-Id \$kw_process_id;
			proxy_set_header X-Keywarden-Scopes \$kw_scopes;
			proxy_pass http://bare;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
		location = /_keywarden {
			internal;
			proxy_pass http://keywarden/api/v1/auth/forward;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-Original-Method \$request_method;
			proxy_set_header X-Original-URI \$request_uri;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
EOF
	nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" 2>"$tmp/nginx/stderr.log" &
	ng_pid=$!
	pids+=("$ng_pid")
	waitfor "http://$ng_plain$files" "$ng_pid"
	curl -sf -o /dev/null -H "Authorization: $pkey_auth" "http://$ng_auth$files" || {
		echo "loadtest: nginx with forward-auth refused the valid key" >&2
		exit 1
	}
	echo "== (e) nginx -> bare server, no authentication"
	warm e "http://$ng_plain$files"
	bench e "$ng_pid" "http://$ng_plain$files"
	echo "== (f) nginx -> forward-auth -> bare server"
	warm f -H "Authorization: $pkey_auth" "http://$ng_auth$files"
	bench f "$ng_pid" -H "Authorization: $pkey_auth" "http://$ng_auth$files"
	echo "== (e1), (f1) the same over one connection"
	conns=1 bench e1 "$ng_pid" "http://$ng_plain$files"
	conns=1 bench f1 "$ng_pid" -H "Authorization: $pkey_auth" "http://$ng_auth$files"
	for name in e f e1 f1; do
		if grep -q "Non-2xx" "$tmp/$name.txt"; then
			echo "loadtest: ($name) got responses other than 200:" >&2
			grep "Non-2xx" "$tmp/$name.txt" >&2
			exit 1
		fi
	done
else
	echo "(e), (f) skipped: nginx not found (apt-get install nginx)"
fi

echo
echo "Machine: $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p'), $(go version | cut -d' ' -f3)"
echo "wrk -t$threads -c$conns -d$duration --latency; $keys keys stored; server and wrk share the machine."
echo "Load average (1, 5, 15 min) before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running skews the ratios)"
echo
read -r a_rps a_p50 a_p99 _ < <(field a)
printf "%-40s %8s %7s %7s %7s %6s %8s %8s  %s\n" "run" "req/s" "p50 ms" "p99 ms" "req/s÷a" "p99÷a" "srv µs/r" "wrk µs/r" "lookups/request (after 1 s)"
row() {
	local label=$1 name=$2 q="-"
	local rps p50 p99 n srv wrkcpu
	read -r rps p50 p99 n < <(field "$name")
	read -r srv wrkcpu <"$tmp/$name.cpu"
	if [[ -f "$tmp/$name.queries" ]]; then
		read -r whole after _ < "$tmp/$name.queries"
		q="$whole ($after)"
	fi
	awk -v l="$label" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v arps="$a_rps" -v ap99="$a_p99" -v q="$q" \
		-v n="$n" -v srv="$srv" -v w="$wrkcpu" 'BEGIN {
		printf "%-40s %8.0f %7.3f %7.3f %7.2f %6.2f %8.1f %8.1f  %s\n", l, rps, p50, p99, rps / arps, p99 / ap99, srv * 1e6 / n, w * 1e6 / n, q
	}'
}
row "(a) bare net/http \"ok\"" a
row "(b) /api/v1/me, valid key" b
row "(b2) ... allowlist and rate limit" b2
row "(c1) POST /api/v1/keys/verify, valid key" c1
row "(c2) /api/v1/auth/forward, valid key" c2
row "(d1) /api/v1/me, unknown keys, pool $pool" d1
row "(d2) /api/v1/me, every key different" d2
if [[ -n $gateway ]]; then
	row "(e) nginx -> bare" e
	row "(f) nginx -> forward-auth -> bare" f
	row "(e1) nginx -> bare, one connection" e1
	row "(f1) ... -> forward-auth, one connection" f1
	echo
	for pair in "e f $conns connections (saturated)" "e1 f1 one connection"; do
		read -r x y what <<<"$pair"
		read -r x_rps x_p50 x_p99 _ < <(field "$x")
		read -r y_rps y_p50 y_p99 _ < <(field "$y")
		awk -v x="$x" -v y="$y" -v what="$what" -v xr="$x_rps" -v yr="$y_rps" -v x50="$x_p50" -v y50="$y_p50" -v x99="$x_p99" -v y99="$y_p99" 'BEGIN {
			printf "(%s) against (%s), %s: req/s %.2f of nginx alone; added latency p50 %+.3f ms, p99 %+.3f ms\n", y, x, what, yr / xr, y50 - x50, y99 - x99
		}'
	done
	echo "(in rows (e) and (f), srv µs/r is nginx's CPU per request, its workers included, without keywarden's or the bare server's)"
fi
echo
for name in d1 d2; do
	read -r whole after q r all allper <"$tmp/$name.queries"
	echo "($name) after the first second: $q FindAPIKeyByUser lookups for $r requests = $after per request;" \
		"all store queries (including the key change feed's poll every 250 ms): $all = $allper per request"
done
for name in d1 d2; do
	echo "pool ($name): $(sed -n 's/^pool: //p' "$tmp/$name.txt")"
done

echo
echo "Targets (docs/performance.md):"
read -r b_rps _ b_p99 _ < <(field b)
read -r d1_rps _ < <(field d1)
read -r d2_rps _ < <(field d2)
read -r _ d1_after _ <"$tmp/d1.queries"
read -r _ d2_after _ <"$tmp/d2.queries"
awk -v a="$a_rps" -v ap99="$a_p99" -v b="$b_rps" -v bp99="$b_p99" -v d1="$d1_rps" -v d2="$d2_rps" -v q1="$d1_after" -v q2="$d2_after" 'BEGIN {
	t("(b)  req/s >= 0.80 x (a)", b / a, b / a >= 0.8)
	t("(b)  p99 <= 1.5 x (a)", bp99 / ap99, bp99 / ap99 <= 1.5)
	t("(d1) req/s >= 0.80 x (a)", d1 / a, d1 / a >= 0.8)
	t("(d1) < 0.01 lookups/request after 1 s", q1, q1 < 0.01)
	t("(d2) req/s >= 0.80 x (a)", d2 / a, d2 / a >= 0.8)
	t("(d2) < 0.01 lookups/request after 1 s", q2, q2 < 0.01)
}
function t(what, v, ok) { printf "  %-40s %8.4f  %s\n", what, v, ok ? "met" : "MISSED" }'
