#!/usr/bin/env bash
# loadtest.sh measures Keywarden over HTTP next to a bare Go net/http
# server on the same machine, in one run, and prints every figure as a
# ratio of the bare server's (see docs/performance.md):
#
#   (a)  a bare net/http server answering "ok"        (cmd/loadtest-bare)
#   (b)  GET /api/v1/me with a valid key               (the cache's hit path)
#   (v)  (b)'s floor: (b)'s mirror with Keywarden's key check in front and
#        nothing else (cmd/loadtest-bare -verify): what a server that only
#        checks the key and answers reaches here, issue 14's practical
#        limit; (b) against (v) is what the rest of the request path costs
#   (b0) (b) on a node at --log-level warn: no request log line, so
#        (b0) against (b) is what the log's one line per request costs
#   (b2) the same with a key that has an IP allowlist (3 networks) and a
#        rate limit (never reached): what both cost on the hot path
#   (c1) POST /api/v1/keys/verify, a valid process key with its scope and process
#   (c2) /api/v1/auth/forward as nginx calls it, the same key and requirement
#   (d1) GET /api/v1/me with unknown keys taken round-robin from a pool of 1000
#   (v1) (d1)'s floor: its requests to a bare server with Keywarden's key
#        check that answers each refused key with the node's own 401
#        problem document (cmd/loadtest-bare -verify -refusal) and does
#        nothing else: the floods' practical limit
#   (p)  (b)'s floor with the four parts issue 14 keeps on: the throttle's
#        check, the outcome's bookkeeping (verification metric, usage
#        recorder, failures against the address), the route metrics and
#        the log line, done around the key check as the node does them
#        (cmd/loadtest-bare -parts): the best the node can do with them on;
#        (p) against (v) is what the four cost, (b) against (p) the rest
#   (p1) the same for (d1): (d1)'s floor with the four parts
#   (d2) GET /api/v1/me with a different unknown key on every request
#   (e)  nginx -> the bare server, no authentication    (skipped without nginx)
#   (f)  nginx -> forward-auth -> the bare server       (skipped without nginx)
#   (e1), (f1) the same over one connection: latency without queueing
#
# (f) against (e) is what putting Keywarden's forward-auth in front of a
# service costs in req/s when the machine is saturated; (f1) against (e1)
# is the latency it adds to one request.
#
# Each Keywarden case runs in rounds (-r, 5), each a run of the bare server
# and then one of the case, and its req/s and p99 ratios are the medians of
# the rounds' ratios: on these shared machines the speed drifts by tens of
# percent over minutes and stalls for a second now and then, so a ratio to
# (a), measured minutes earlier, would measure the machine too. (a) is
# still printed, and is the baseline of the nginx rows.
#
# Mirrors (the first part's cases): each round also runs the case's
# mirror, a bare server (cmd/loadtest-bare -answer) answering the case's
# exact request with Keywarden's own answer to it, recorded with curl just
# before: the same headers and body, and nothing else done. The case ÷ its
# mirror is what Keywarden's own code costs; the mirror ÷ the bare server
# is what net/http costs for the request and answer the API's contract
# has (the forward-auth identity headers, a 401's problem document, a
# POST's body), which no code of Keywarden's can save. The targets stay
# against (a).
#
# Scale (issue 14, "flat cost with scale"; skipped with -L): (b), (c1), (c2)
# and (d2) again on SQLite nodes holding 1,000 and 1,000,000 stored keys,
# each run for -e, with each case's req/s and p99 1M / 1k and both against (a); the
# time the bulk import of the million keys takes; and keywarden's RSS
# (VmRSS) once each node has loaded, with (RSS_1M - RSS_1k) / 999,000 as
# the bytes per stored key.
#
# PostgreSQL (issue 14, several nodes; skipped with -G): a fresh database
# keywarden_loadtest_PID is created next to the one of -u (and dropped on
# exit), seeded like the SQLite one, and two keywarden nodes, A and B, serve
# it. On each node (b), (c2) and (d2) run for -e. During A's (d2) a probe
# (cmd/loadtest-probe) creates keys through B's REST API and uses each at
# once on A; it counts those A refuses on their first use (false
# negatives: there must be none). The probe also runs once on its own,
# outside any flood.
#
# For (d1) and (d2) it scrapes /metrics before a 1 s warm-up, after it and
# after the measured run, and prints the store lookups per request
# (keywarden_store_queries_total{op="FindAPIKeyByUser"} over
# keywarden_http_requests_total of the route), over the whole run and after
# the first second.
#
# Usage: scripts/loadtest.sh [-n KEYS] [-k UNKNOWN] [-d DURATION] [-e DURATION]
#                            [-r ROUNDS] [-u POSTGRES-URL] [-G] [-L]
#   -n  keys stored in the database            (env LOADTEST_KEYS, default 100000;
#       the PostgreSQL part stores as many)
#   -k  unknown keys generated for (d1)/(d2)   (env LOADTEST_UNKNOWN, default 900000:
#       (d2) sends those after the first 101,000, and reports it if it
#       repeats any)
#   -d  duration of each measured wrk run      (env LOADTEST_DURATION, default 10s)
#   -e  duration of the scale and PostgreSQL parts' runs
#                                              (env LOADTEST_EXTRA_DURATION, default 6s)
#   -r  rounds of each Keywarden case, each a bare run and a run of the
#       case, a -d (or -e) divided by the rounds long
#                                              (env LOADTEST_ROUNDS, default 5)
#   -u  PostgreSQL server to create the test database on, as a URL of an
#       existing database there (env LOADTEST_PG_URL, default
#       postgres://postgres@127.0.0.1:5432/test?sslmode=disable)
#   -G  skip the PostgreSQL part               (env LOADTEST_PG=0)
#   -L  skip the scale part (1k / 1M keys)     (env LOADTEST_SCALE=0)
# Needs go, wrk (apt-get install wrk) and curl, nginx for (e) and (f), and
# psql for the PostgreSQL part (skipped, and said so, without it).
# The default run takes ten to twelve minutes on 2 cores, the baselines
# and mirrors included: six to seven for the first part, two and a half
# for the scale part (seeding the million keys alone takes 20-30 s), one
# and a half for PostgreSQL; with -G -L, six to seven.
set -euo pipefail

keys=${LOADTEST_KEYS:-100000}
unknown=${LOADTEST_UNKNOWN:-900000}
duration=${LOADTEST_DURATION:-10s}
xduration=${LOADTEST_EXTRA_DURATION:-6s}
rounds=${LOADTEST_ROUNDS:-5}
pg_url=${LOADTEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
do_pg=${LOADTEST_PG:-1}
do_scale=${LOADTEST_SCALE:-1}
threads=1
conns=32
pool=1000        # (d1)'s pool of unknown keys
warmkeys=100000  # (d2)'s warm-up keys, kept apart from its measured ones

while getopts "n:k:d:e:r:u:GLh" opt; do
	case $opt in
	n) keys=$OPTARG ;;
	k) unknown=$OPTARG ;;
	d) duration=$OPTARG ;;
	e) xduration=$OPTARG ;;
	r) rounds=$OPTARG ;;
	u) pg_url=$OPTARG ;;
	G) do_pg=0 ;;
	L) do_scale=0 ;;
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
# (d1) takes the first $pool unknown keys, (d2)'s warm-up the next
# $warmkeys, and (d2) deals the rest to its rounds.
if ((unknown < pool + warmkeys + rounds)); then
	echo "loadtest: -k must be at least $((pool + warmkeys + rounds)): (d2) needs keys for each round after the $((pool + warmkeys)) of (d1) and its warm-up" >&2
	exit 2
fi

cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keywarden-loadtest.XXXXXX")
pids=()
pg_db=""  # the PostgreSQL database this run created, dropped on exit
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n $pg_db ]]; then
		psql "$pg_url" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null ||
			echo "loadtest: could not drop the PostgreSQL database $pg_db" >&2
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# freeport, waitfor; and the caller's KEYWARDEN_ variables unset.
. scripts/servers.sh

# secs DURATION: a wrk duration (10s, 2m, 1h, or plain seconds) in seconds.
secs() {
	case $1 in
	*s) echo "${1%s}" ;;
	*m) echo $((${1%m} * 60)) ;;
	*h) echo $((${1%h} * 3600)) ;;
	*) echo "$1" ;;
	esac
}

# rss PID: the resident set of a process, in kB.
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

cat >"$tmp/routes.yaml" <<EOF
routes:
  - route: GET /v1/processes/{processId}/files
    scopes: [workspace.file:download]
    process: processId
EOF

# start_kw NAME ARGS...: start a keywarden node with the load test's
# settings and ARGS (its store), and wait until it is ready; sets kw (its
# base URL) and kw_pid. The log level is serve's default (info, one line
# per request, written to a file), as issue 14 measures it; LOADTEST_LOG_LEVEL
# changes it. Throttling of failed authentication stays on (every failure
# is counted against the address) with a limit no run reaches: (d1) and (d2)
# flood refused keys from this one address on purpose, to measure what
# refusing costs, not what a 429 costs.
start_kw() {
	local name=$1 addr
	shift
	addr=127.0.0.1:$(freeport)
	"$tmp/keywarden" serve --addr "$addr" --log-level "${LOADTEST_LOG_LEVEL:-info}" --routes "$tmp/routes.yaml" \
		--auth-failures-per-minute 1000000000 "$@" 2>"$tmp/$name.log" &
	kw_pid=$!
	pids+=("$kw_pid")
	kw=http://$addr
	waitfor "$kw/healthz" "$kw_pid"
	waitfor "$kw/readyz" "$kw_pid"
}

# stop_kw PID: stop a node started by start_kw.
stop_kw() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# fixtures DIR NAME: read the seed's credentials in DIR into valid_auth,
# restricted_auth, pid, pkey, pkey_auth, files and verify_body, and write
# the (c1) Lua script $tmp/verify-NAME.lua.
fixtures() {
	pid=$(tr -d '\n' <"$1/process.id")
	pkey=$(tr -d '\n' <"$1/process.key")
	pkey_auth="Basic $(printf '%s' "$pkey" | base64 -w0)"
	valid_auth="Basic $(tr -d '\n' <"$1/valid.key" | base64 -w0)"
	restricted_auth="Basic $(tr -d '\n' <"$1/restricted.key" | base64 -w0)"
	files=/v1/processes/$pid/files
	verify_body="{\"key\":\"$pkey\",\"scopes\":[\"workspace.file:upload\"],\"processId\":\"$pid\"}"
	cat >"$tmp/verify-$2.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$verify_body'
EOF
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
run_start=$(date +%s)
echo "== build"
go build -o "$tmp/keywarden" ./cmd/keywarden
go build -o "$tmp/bare" ./cmd/loadtest-bare
go build -o "$tmp/seed" ./cmd/loadtest-seed
go build -o "$tmp/probe" ./cmd/loadtest-probe

echo "== seed $keys keys, $unknown unknown keys"
data=$tmp/data
"$tmp/seed" -data-dir "$data" -n "$keys" -unknown "$unknown"
# Every node's floods take their unknown keys from this one file: a key
# one node has refused is still unknown to another (each has its own
# cache).
unknown_file=$data/unknown.basic
# (b0)'s node serves a copy, taken before any node opens the database,
# without the files of unknown keys (the floods read them from $data).
mkdir "$tmp/data-quiet"
find "$data" -mindepth 1 -maxdepth 1 ! -name 'unknown.*' -exec cp -r {} "$tmp/data-quiet/" \;

bare_addr=127.0.0.1:$(freeport)
"$tmp/bare" -addr "$bare_addr" 2>"$tmp/bare.log" &
bare_pid=$!
pids+=("$bare_pid")
waitfor "http://$bare_addr/" "$bare_pid"

start_kw keywarden --data-dir "$data"
main_kw=$kw
main_kw_pid=$kw_pid
fixtures "$data" main

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

# measure NAME PID WRK-ARGS...: a Keywarden case in $rounds rounds, each a
# run of the bare server, one of the case's mirror when one runs
# (start_mirror), and one of the case, duration / rounds long (NAME.base.I,
# NAME.mirror.I, NAME.I), merged by merge_rounds. This machine's speed
# drifts over minutes and stalls for a second now and then (other guests
# on the host): a ratio to the bare run just before, and the median of
# several, measures the code rather than the machine.
measure() {
	local name=$1 pid=$2 i
	shift 2
	for ((i = 1; i <= rounds; i++)); do
		round "$name" "$i" "$pid" "$@"
	done
	merge_rounds "$name"
}

# round NAME I PID WRK-ARGS...: round I of measure (or of flood).
round() {
	local name=$1 i=$2 pid=$3 per
	shift 3
	per=$(($(secs "$duration") / rounds))
	((per >= 1)) || per=1
	duration=${per}s bench "$name.base.$i" "$bare_pid" "http://$bare_addr/"
	if [[ -n $mirror_url ]]; then
		# The same wrk arguments, the node's URL replaced by the mirror's.
		duration=${per}s bench "$name.mirror.$i" "$mirror_pid" "${@/#"$kw"/"$mirror_url"}"
	fi
	duration=${per}s bench "$name.$i" "$pid" "$@"
}

# start_mirror NAME CURL-ARGS...: record the node's answer to the request
# of CURL-ARGS (the case's, the node's URL last) and start a mirror that
# answers it to every request; the next measure (or flood) of the case
# runs it in each round. stop_mirror stops it. Only with mirrors=1.
mirrors=1
mirror_url="" mirror_pid=""
start_mirror() {
	local name=$1 addr
	shift
	((mirrors)) || return 0
	curl -sS -i "$@" >"$tmp/$name.answer"
	addr=127.0.0.1:$(freeport)
	"$tmp/bare" -addr "$addr" -answer "$tmp/$name.answer" 2>"$tmp/$name.mirror.log" &
	mirror_pid=$!
	pids+=("$mirror_pid")
	mirror_url=http://$addr
	waitfor "$mirror_url/" "$mirror_pid" any # a 401's mirror answers 401
}
stop_mirror() {
	[[ -n $mirror_pid ]] || return 0
	stop_kw "$mirror_pid"
	mirror_url="" mirror_pid=""
}

# merge_rounds NAME: NAME.txt and NAME.base.txt (and NAME.mirror.txt) hold
# every round's wrk output (for the checks of the answers), then the
# rounds' requests added up and the medians of their req/s, p50 and p99,
# which field reads; NAME.cpu adds up the rounds' CPU. NAME.ratio holds the
# medians over the rounds of req/s ÷ the bare run's and p99 ÷ the bare
# run's, then the lowest and the highest of the rounds' req/s ratios;
# NAME.mirror.ratio those of the mirror ÷ the bare run and of the case ÷
# the mirror.
merge_rounds() {
	local name=$1 part i parts=("$1" "$1.base")
	[[ -f $tmp/$name.mirror.1.txt ]] && parts+=("$name.mirror")
	for part in "${parts[@]}"; do
		for ((i = 1; i <= rounds; i++)); do cat "$tmp/$part.$i.txt"; done >"$tmp/$part.txt"
		for ((i = 1; i <= rounds; i++)); do field "$part.$i"; done | awk "$median"'
			{ rps[NR] = $1; p50[NR] = $2; p99[NR] = $3; n += $4 }
			END { printf "merged, %d rounds:\n    50%% %.3fms\n    99%% %.3fms\n  %d requests in %d rounds\nRequests/sec: %.2f\n", NR, med(p50, NR), med(p99, NR), n, NR, med(rps, NR) }' >>"$tmp/$part.txt"
		for ((i = 1; i <= rounds; i++)); do cat "$tmp/$part.$i.cpu"; done | awk '{ s += $1; w += $2 } END { print s, w }' >"$tmp/$part.cpu"
	done
	for ((i = 1; i <= rounds; i++)); do
		read -r c_rps _ c_p99 _ < <(field "$name.$i")
		read -r b_rps _ b_p99 _ < <(field "$name.base.$i")
		echo "$c_rps $b_rps $c_p99 $b_p99"
	done | awk "$median"'{ r[NR] = $1 / $2; p[NR] = $3 / $4; lo = NR == 1 || r[NR] < lo ? r[NR] : lo; hi = r[NR] > hi ? r[NR] : hi }
		END { printf "%.4f %.4f %.4f %.4f\n", med(r, NR), med(p, NR), lo, hi }' >"$tmp/$name.ratio"
	[[ -f $tmp/$name.mirror.1.txt ]] || return 0
	for ((i = 1; i <= rounds; i++)); do
		read -r c_rps _ < <(field "$name.$i")
		read -r m_rps _ < <(field "$name.mirror.$i")
		read -r b_rps _ < <(field "$name.base.$i")
		echo "$c_rps $m_rps $b_rps"
	done | awk "$median"'{ m[NR] = $2 / $3; c[NR] = $1 / $2 } END { printf "%.4f %.4f\n", med(m, NR), med(c, NR) }' >"$tmp/$name.mirror.ratio"
}

# median: an awk function, med(a, n), the median of a[1..n] (mawk has no sort).
median='function med(a, n,   b, i, j, t) {
	for (i = 1; i <= n; i++) b[i] = a[i]
	for (i = 2; i <= n; i++) { t = b[i]; for (j = i - 1; j >= 1 && b[j] > t; j--) b[j + 1] = b[j]; b[j + 1] = t }
	return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
}
'

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

# ok200 NAME...: fail unless every response of each run was a 200.
ok200() {
	local name
	for name in "$@"; do
		if grep -q "Non-2xx" "$tmp/$name.txt"; then
			echo "loadtest: ($name) got responses other than 200:" >&2
			grep "Non-2xx" "$tmp/$name.txt" >&2
			exit 1
		fi
	done
}

# The cases, against the node $kw ($kw_pid) with the credentials fixtures
# read last; NAME is the name of the run's files (and its row).

# case_b NAME [AUTH]: GET /api/v1/me with a valid key (or AUTH).
case_b() {
	local auth=${2:-$valid_auth}
	warm "$1" -H "Authorization: $auth" "$kw/api/v1/me"
	start_mirror "$1" -H "Authorization: $auth" "$kw/api/v1/me"
	measure "$1" "$kw_pid" -H "Authorization: $auth" "$kw/api/v1/me"
	stop_mirror
	ok200 "$1"
}

# case_v NAME [FLAG...]: (b)'s request to its floor, a bare server with the
# node's answer and Keywarden's key check (over the keys of $data), with
# (b)'s mirror in each round: ÷mirror is then what the key check costs.
# FLAGs go to the floor (-parts: (p)).
case_v() {
	local addr=127.0.0.1:$(freeport) floor_pid
	start_mirror "$1" -H "Authorization: $valid_auth" "$kw/api/v1/me"
	"$tmp/bare" -addr "$addr" -answer "$tmp/$1.answer" -verify "$data" "${@:2}" 2>"$tmp/$1.floor.log" &
	floor_pid=$!
	pids+=("$floor_pid")
	waitfor "http://$addr/" "$floor_pid" any # a request without a key gets a 401
	warm "$1" -H "Authorization: $valid_auth" "http://$addr/api/v1/me"
	# measure's rounds send the mirror the same request: its URL replaces $kw.
	kw=http://$addr measure "$1" "$floor_pid" -H "Authorization: $valid_auth" "http://$addr/api/v1/me"
	stop_mirror
	stop_kw "$floor_pid"
	ok200 "$1" # every request's key checked and accepted
}

# case_v1 NAME [FLAG...]: (d1)'s requests to its floor, a bare server with
# the node's answers to a valid key and to a refused one and Keywarden's
# key check, with (d1)'s mirror (the refusal, answered to every request) in
# each round: ÷mirror is then what checking each key costs a flood. FLAGs
# go to the floor (-parts: (p1)).
case_v1() {
	local addr=127.0.0.1:$(freeport) floor_pid
	curl -sS -i -H "Authorization: $valid_auth" "$kw/api/v1/me" >"$tmp/$1.valid.answer"
	start_mirror "$1" -H "Authorization: $(sed -n 1p "$unknown_file")" "$kw/api/v1/me"
	"$tmp/bare" -addr "$addr" -answer "$tmp/$1.valid.answer" -verify "$data" -refusal "$tmp/$1.answer" "${@:2}" 2>"$tmp/$1.floor.log" &
	floor_pid=$!
	pids+=("$floor_pid")
	waitfor "http://$addr/" "$floor_pid" any
	warm "$1" -s "$tmp/pool.lua" "http://$addr/api/v1/me" "$unknown_file" 1 "$pool"
	kw=http://$addr measure "$1" "$floor_pid" -s "$tmp/pool.lua" "http://$addr/api/v1/me" "$unknown_file" 1 "$pool"
	stop_mirror
	stop_kw "$floor_pid"
	local i n
	for ((i = 1; i <= rounds; i++)); do
		n=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$tmp/$1.$i.txt")
		grep -q "Non-2xx or 3xx responses: $n\$" "$tmp/$1.$i.txt" || {
			echo "loadtest: ($1) the floor did not refuse every unknown key" >&2
			exit 1
		}
	done
}

# case_c1 NAME LUA: POST /api/v1/keys/verify, the process key.
case_c1() {
	curl -sf -H 'Content-Type: application/json' -d "$verify_body" "$kw/api/v1/keys/verify" | grep -q '"code":"VALID"' || {
		echo "loadtest: ($1) the verify API did not answer VALID" >&2
		exit 1
	}
	warm "$1" -s "$2" "$kw/api/v1/keys/verify"
	start_mirror "$1" -H 'Content-Type: application/json' -d "$verify_body" "$kw/api/v1/keys/verify"
	measure "$1" "$kw_pid" -s "$2" "$kw/api/v1/keys/verify"
	stop_mirror
	ok200 "$1"
}

# case_c2 NAME: /api/v1/auth/forward, the process key, as nginx asks.
case_c2() {
	local forward_headers=(-H "Authorization: $pkey_auth" -H "X-Original-Method: GET" -H "X-Original-URI: $files")
	warm "$1" "${forward_headers[@]}" "$kw/api/v1/auth/forward"
	start_mirror "$1" "${forward_headers[@]}" "$kw/api/v1/auth/forward"
	measure "$1" "$kw_pid" "${forward_headers[@]}" "$kw/api/v1/auth/forward"
	stop_mirror
	ok200 "$1"
}

# flood NAME FIRST COUNT WARMFIRST WARMCOUNT [DEAL]: a warm-up and a measured run
# of unknown keys, with /metrics scraped around both. With flood_probe set
# (to "CREATE-URL ADMIN-KEY-FILE"), the propagation probe runs during the
# measured run: it creates keys on CREATE-URL and uses each at once on
# this node; its output goes to $tmp/NAME.probe. With DEAL ("deal"), the
# measured keys are dealt to the rounds, so that none repeats across them;
# without, each round sends them all. With the probe, one round, so that
# all of its first uses fall inside the flood.
flood() {
	local name=$1 probe_pid="" probe_for i per_round first
	local rounds=$rounds
	[[ -n ${flood_probe:-} ]] && rounds=1
	# The mirror answers what the node answers one of the warm-up's keys,
	# asked before the first scrape.
	start_mirror "$name" -H "Authorization: $(sed -n "${4}p" "$unknown_file")" "$kw/api/v1/me"
	read -r q0 r0 a0 < <(scrape)
	warm "$name" -s "$tmp/pool.lua" "$kw/api/v1/me" "$unknown_file" "$4" "$5"
	read -r q1 r1 a1 < <(scrape)
	per_round=$3 first=$2
	[[ ${6:-} == deal ]] && per_round=$(($3 / rounds))
	for ((i = 1; i <= rounds; i++)); do
		if [[ -z ${flood_probe:-} ]]; then
			round "$name" "$i" "$kw_pid" -s "$tmp/pool.lua" "$kw/api/v1/me" "$unknown_file" "$first" "$per_round"
			[[ ${6:-} == deal ]] && first=$((first + per_round))
			continue
		fi
		# One round, and the probe starts after its bare run: from 0.5 s
		# into the flood to 1.5 s before its end, so that every first use
		# falls inside the flood.
		bench "$name.base.$i" "$bare_pid" "http://$bare_addr/"
		read -r create_url admin_file <<<"$flood_probe"
		probe_for=$(($(secs "$duration") * 1000 - 2000))
		"$tmp/probe" -create "$create_url" -use "$kw" -admin-key "$admin_file" -n 1000 -c 16 \
			-delay 500ms -for "$((probe_for > 500 ? probe_for : 500))ms" >"$tmp/$name.probe" 2>"$tmp/$name.probe.err" &
		probe_pid=$!
		pids+=("$probe_pid")
		bench "$name.$i" "$kw_pid" -s "$tmp/pool.lua" "$kw/api/v1/me" "$unknown_file" "$2" "$3"
	done
	merge_rounds "$name"
	stop_mirror
	if [[ -n $probe_pid ]]; then
		wait "$probe_pid" || {
			echo "loadtest: ($name) the probe failed:" >&2
			cat "$tmp/$name.probe.err" >&2
			exit 1
		}
		head -n1 "$tmp/$name.probe"
	fi
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

# case_d2 NAME: a different unknown key on every request: the keys after
# the pool's and the warm-up's, dealt to the rounds.
case_d2() {
	flood "$1" $((pool + warmkeys + 1)) $((unknown - pool - warmkeys)) $((pool + 1)) "$warmkeys" deal
}

echo "== (b) GET /api/v1/me with a valid key"
case_b b

echo "== (v) (b)'s floor: its mirror with Keywarden's key check, nothing else"
case_v v

# The four parts' floor throttles as the node does, with its limit.
parts_flags=(-parts -auth-failures-per-minute 1000000000)
echo "== (p) (b)'s floor with the four parts: key check, throttle, bookkeeping, metrics, log line"
case_v p "${parts_flags[@]}"

echo "== (b0) the same on a node at --log-level warn (no request log line)"
start_kw quiet --data-dir "$tmp/data-quiet" --log-level warn
case_b b0
stop_kw "$kw_pid"
rm -rf "$tmp/data-quiet"
kw=$main_kw kw_pid=$main_kw_pid

echo "== (b2) GET /api/v1/me with a key that has an allowlist and a rate limit"
case_b b2 "$restricted_auth"

echo "== (c1) POST /api/v1/keys/verify with a valid process key"
case_c1 c1 "$tmp/verify-main.lua"

echo "== (c2) /api/v1/auth/forward with the same key, as nginx asks"
case_c2 c2

echo "== (d1) GET /api/v1/me, unknown keys round-robin from a pool of $pool"
flood d1 1 "$pool" 1 "$pool"

echo "== (v1) (d1)'s floor: its mirror with Keywarden's key check, nothing else"
case_v1 v1

echo "== (p1) (d1)'s floor with the four parts"
case_v1 p1 "${parts_flags[@]}"

echo "== (d2) GET /api/v1/me, a different unknown key on every request"
case_d2 d2

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
	upstream keywarden { server ${main_kw#http://}; keepalive 64; }
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


# The first part's node is done: the next parts' nodes do not share the
# machine with it.
stop_kw "$main_kw_pid"

# Scale: the same cases on 1,000 and 1,000,000 stored keys. The mirrors
# were the first part's: the answers are the same on every node.
mirrors=0
scale_sizes=(1000 1000000)
if ((do_scale)); then
	for n in "${scale_sizes[@]}"; do
		echo "== scale: seed $n keys (SQLite)"
		sdir=$tmp/scale$n
		t0=$(date +%s.%N)
		"$tmp/seed" -data-dir "$sdir" -n "$n" -unknown 0 | tee "$tmp/s$n.seed"
		t1=$(date +%s.%N)
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >"$tmp/s$n.seedtime"
		start_kw "s$n" --data-dir "$sdir"
		fixtures "$sdir" "s$n"
		sleep 1
		rss "$kw_pid" >"$tmp/s$n.rss"
		echo "== scale $n: (b) (c1) (c2) (d2), $xduration each; RSS after loading $(cat "$tmp/s$n.rss") kB"
		duration=$xduration case_b "s${n}_b"
		duration=$xduration case_c1 "s${n}_c1" "$tmp/verify-s$n.lua"
		duration=$xduration case_c2 "s${n}_c2"
		duration=$xduration case_d2 "s${n}_d2"
		rss "$kw_pid" >"$tmp/s$n.rss2"
		stop_kw "$kw_pid"
		rm -rf "$sdir"
	done
fi

# PostgreSQL: two nodes on one fresh database.
pg_skip=""
if ((do_pg)); then
	if ! command -v psql >/dev/null; then
		pg_skip="psql not found"
	elif ! psql "$pg_url" -qXAt -c 'SELECT 1' >/dev/null 2>&1; then
		pg_skip="no PostgreSQL answers at $pg_url"
	fi
else
	pg_skip="-G"
fi
if [[ -z $pg_skip ]]; then
	name=keywarden_loadtest_$$
	echo "== PostgreSQL: create database $name, seed $keys keys"
	psql "$pg_url" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $name" >/dev/null
	pg_db=$name
	# The test database's URL: -u's with the database name replaced.
	base=${pg_url%%\?*}
	query=${pg_url#"$base"}
	pg_test_url=${base%/*}/$pg_db$query
	pgdir=$tmp/pg
	"$tmp/seed" -data-dir "$pgdir" -database-url "$pg_test_url" -n "$keys" -unknown 0 | tee "$tmp/pg.seed"
	fixtures "$pgdir" pg
	start_kw pga --database-url "$pg_test_url"
	pga=$kw
	pga_pid=$kw_pid
	start_kw pgb --database-url "$pg_test_url"
	pgb=$kw
	pgb_pid=$kw_pid

	echo "== PostgreSQL: the propagation probe on its own (create on B, first use on A)"
	"$tmp/probe" -create "$pgb" -use "$pga" -admin-key "$pgdir/admin.key" -n 200 -c 16 >"$tmp/probe_quiet.probe"
	head -n1 "$tmp/probe_quiet.probe"

	for node in a b; do
		if [[ $node == a ]]; then kw=$pga kw_pid=$pga_pid; else kw=$pgb kw_pid=$pgb_pid; fi
		echo "== PostgreSQL node ${node^^}: (b) (c2) (d2), $xduration each"
		duration=$xduration case_b "pg${node}_b"
		duration=$xduration case_c2 "pg${node}_c2"
		if [[ $node == a ]]; then
			echo "   (during (d2) on A, the probe creates keys on B and uses each at once on A)"
			duration=$xduration flood_probe="$pgb $pgdir/admin.key" case_d2 pga_d2
		else
			duration=$xduration case_d2 pgb_d2
		fi
	done
	stop_kw "$pga_pid"
	stop_kw "$pgb_pid"
fi
run_end=$(date +%s)
echo
echo "Machine: $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p'), $(go version | cut -d' ' -f3)"
echo "wrk -t$threads -c$conns -d$duration --latency (scale and PostgreSQL parts: -d$xduration); $keys keys stored; server and wrk share the machine."
echo "Load average (1, 5, 15 min) before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running skews the ratios)"
echo
read -r a_rps a_p50 a_p99 _ < <(field a)
printf "%-40s %8s %7s %7s %7s %6s %8s %8s %8s %8s  %s\n" "run" "req/s" "p50 ms" "p99 ms" "req/s÷a" "p99÷a" "mirror÷a" "÷mirror" "srv µs/r" "wrk µs/r" "lookups/request (after 1 s); all store queries/request after 1 s"
row() {
	local label=$1 name=$2 q="-"
	local rps p50 p99 n srv wrkcpu
	read -r rps p50 p99 n < <(field "$name")
	read -r srv wrkcpu <"$tmp/$name.cpu"
	local rr pr mr="-" cm="-"
	read -r rr pr _ < <(ratios "$name")
	if [[ -f "$tmp/$name.mirror.ratio" ]]; then
		read -r mr cm <"$tmp/$name.mirror.ratio"
	fi
	if [[ -f "$tmp/$name.queries" ]]; then
		read -r whole after _ _ _ allper <"$tmp/$name.queries"
		q="$whole ($after); all queries $allper"
	fi
	awk -v l="$label" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v rr="$rr" -v pr="$pr" -v mr="$mr" -v cm="$cm" -v q="$q" \
		-v n="$n" -v srv="$srv" -v w="$wrkcpu" 'BEGIN {
		if (mr != "-") { mr = sprintf("%.2f", mr); cm = sprintf("%.2f", cm) }
		printf "%-40s %8.0f %7.3f %7.3f %7.2f %6.2f %8s %8s %8.1f %8.1f  %s\n", l, rps, p50, p99, rr, pr, mr, cm, srv * 1e6 / n, w * 1e6 / n, q
	}'
}
# ratios NAME: req/s ÷ bare and p99 ÷ bare of the run NAME: the medians
# over its rounds, each against the bare run just before it, and the
# lowest and highest round's req/s ÷ bare (NAME.ratio); or against (a)
# for a run of one piece (the nginx rows), which is its own lowest and
# highest.
ratios() {
	if [[ -f "$tmp/$1.ratio" ]]; then
		cat "$tmp/$1.ratio"
		return
	fi
	local rps p99
	read -r rps _ p99 _ < <(field "$1")
	awk -v r="$rps" -v p="$p99" -v a="$a_rps" -v ap="$a_p99" 'BEGIN { printf "%.4f %.4f %.4f %.4f\n", r / a, p / ap, r / a, r / a }'
}
echo "(req/s and p99 of a Keywarden case: medians of its $rounds rounds; req/s÷a, p99÷a: the medians of each round against the bare run"
echo " just before it. (a) and the nginx rows: one run each, against (a). mirror÷a: the req/s of the case's mirror, a bare server"
echo " answering the case's request with Keywarden's recorded answer, against (a); ÷mirror: the case's against its mirror's; medians.)"
row "(a) bare net/http \"ok\"" a
row "(b) /api/v1/me, valid key" b
row "(v) (b)'s floor: key check, bare handler" v
row "(p) (b)'s floor with the four parts" p
row "(b0) ... at --log-level warn" b0
row "(b2) ... allowlist and rate limit" b2
row "(c1) POST /api/v1/keys/verify, valid key" c1
row "(c2) /api/v1/auth/forward, valid key" c2
row "(d1) /api/v1/me, unknown keys, pool $pool" d1
row "(v1) (d1)'s floor: key check, bare handler" v1
row "(p1) (d1)'s floor with the four parts" p1
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

# Scale: rows, 1M / 1k, seeding time, RSS.
if ((do_scale)); then
	echo
	echo "Scale (SQLite, wrk -d$xduration): the same cases with ${scale_sizes[0]} and ${scale_sizes[1]} stored keys"
	for n in "${scale_sizes[@]}"; do
		row "(b)  $n keys" "s${n}_b"
		row "(c1) $n keys" "s${n}_c1"
		row "(c2) $n keys" "s${n}_c2"
		row "(d2) $n keys" "s${n}_d2"
	done
	lo=${scale_sizes[0]} hi=${scale_sizes[1]}
	echo "(1M / 1k divides the two sizes' ratios to their bare runs: the raw req/s of runs minutes apart drift with the machine)"
	for c in b c1 c2 d2; do
		read -r lo_r lo_p _ < <(ratios "s${lo}_$c")
		read -r hi_r hi_p _ < <(ratios "s${hi}_$c")
		awk -v c="$c" -v lr="$lo_r" -v hr="$hi_r" -v lp="$lo_p" -v hp="$hi_p" 'BEGIN {
			printf "(%s) 1M / 1k: req/s %.3f (1k %.2f x (a), 1M %.2f x (a)); p99 %.3f (1k %.2f x (a), 1M %.2f x (a))\n",
				c, hr / lr, lr, hr, hp / lp, lp, hp
		}'
	done
	for n in "${scale_sizes[@]}"; do
		echo "seed $n keys: $(cat "$tmp/s$n.seedtime") s in all; $(sed -n 's/^seeded [^:]*: //p' "$tmp/s$n.seed")"
	done
	read -r rss_lo <"$tmp/s$lo.rss"
	read -r rss_hi <"$tmp/s$hi.rss"
	read -r rss_lo2 <"$tmp/s$lo.rss2"
	read -r rss_hi2 <"$tmp/s$hi.rss2"
	awk -v lo="$rss_lo" -v hi="$rss_hi" -v lo2="$rss_lo2" -v hi2="$rss_hi2" -v nl="${scale_sizes[0]}" -v nh="${scale_sizes[1]}" 'BEGIN {
		printf "keywarden RSS (VmRSS) 1 s after start: %d keys %.1f MiB, %d keys %.1f MiB; after the runs: %.1f MiB, %.1f MiB\n", nl, lo / 1024, nh, hi / 1024, lo2 / 1024, hi2 / 1024
		printf "bytes per stored key (process RSS): %.1f after start, %.1f after the runs\n", (hi - lo) * 1024 / (nh - nl), (hi2 - lo2) * 1024 / (nh - nl)
	}'
fi

# PostgreSQL: rows, probes.
if [[ -z $pg_skip ]]; then
	echo
	echo "PostgreSQL, two nodes A and B on one database ($keys keys stored; wrk -d$xduration)"
	for node in a b; do
		row "(b)  node ${node^^}, /api/v1/me valid key" "pg${node}_b"
		row "(c2) node ${node^^}, auth/forward" "pg${node}_c2"
		row "(d2) node ${node^^}, every key different" "pg${node}_d2"
	done
	for p in probe_quiet pga_d2; do
		if [[ $p == probe_quiet ]]; then what="on its own"; else what="during (d2) on A"; fi
		echo "probe $what: $(head -n1 "$tmp/$p.probe" | sed 's/^probe: //')"
		sed -n 's/^probe //p' "$tmp/$p.probe" | awk -v what="$what" '{
			for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			printf "  creation on B p50 %s ms, p99 %s ms; first use on A %s ms after the creation answered (max %s ms), its round trip p50 %s ms, p99 %s ms\n",
				v["create_p50_ms"], v["create_p99_ms"], v["gap_p50_ms"], v["gap_max_ms"], v["use_p50_ms"], v["use_p99_ms"]
		}'
	done
	echo "(the probe's own requests to A during (d2) count in A's /api/v1/me requests and store queries: about one lookup per key it creates)"
else
	echo
	echo "PostgreSQL part skipped: $pg_skip"
fi

echo
floods=(d1 d2)
((do_scale)) && floods+=("s${scale_sizes[0]}_d2" "s${scale_sizes[1]}_d2")
[[ -z $pg_skip ]] && floods+=(pga_d2 pgb_d2)
for name in "${floods[@]}"; do
	read -r whole after q r all allper <"$tmp/$name.queries"
	echo "($name) after the first second: $q FindAPIKeyByUser lookups for $r requests = $after per request;" \
		"all store queries (including the key change feed's poll every 250 ms): $all = $allper per request"
done
for name in "${floods[@]}"; do
	echo "pool ($name): $(sed -n 's/^pool: //p' "$tmp/$name.txt" | paste -sd';' | sed 's/;/; /g')"
done

echo
echo "Targets (docs/performance.md; issue 14: >= 0.85 x (a), p99 <= 1.5 x (a), < 0.01 queries/request, no false negatives, flat with scale):"
{
	# Lines of: kind label value...; read by the awk below.
	for c in b c1 c2 d2; do
		read -r rr pr lo hi < <(ratios "$c")
		echo "rps ($c) $rr $lo $hi"
		echo "p99 ($c) $pr"
	done
	read -r rr _ lo hi < <(ratios d1)
	echo "rps80 (d1) $rr $lo $hi"
	for name in d1 d2; do
		read -r _ after _ <"$tmp/$name.queries"
		echo "lookups ($name) $after"
	done
	for name in "${floods[@]}"; do
		[[ $name == d1 ]] && continue
		read -r _ _ _ _ _ allper <"$tmp/$name.queries"
		echo "queries ($name) $allper"
	done
	if ((do_scale)); then
		for n in "${scale_sizes[@]}"; do
			for c in b c1 c2 d2; do
				read -r rr _ lo hi < <(ratios "s${n}_$c")
				echo "rps ($c,$n) $rr $lo $hi"
			done
		done
		for c in b c1 c2 d2; do
			read -r lo_r lo_p _ < <(ratios "s${scale_sizes[0]}_$c")
			read -r hi_r hi_p _ < <(ratios "s${scale_sizes[1]}_$c")
			echo "flat ($c) $hi_r $lo_r"
			echo "flat99 ($c) $hi_p $lo_p"
		done
	fi
	if [[ -z $pg_skip ]]; then
		for node in a b; do
			for c in b c2 d2; do
				read -r rr pr lo hi < <(ratios "pg${node}_$c")
				echo "rps ($c,pg-${node^^}) $rr $lo $hi"
				echo "p99 ($c,pg-${node^^}) $pr"
			done
		done
		for p in probe_quiet pga_d2; do
			refused=$(sed -n 's/^probe .*refused=\([0-9]*\).*/\1/p' "$tmp/$p.probe")
			created=$(sed -n 's/^probe created=\([0-9]*\).*/\1/p' "$tmp/$p.probe")
			echo "refused $p $refused $created"
		done
	fi
} | awk '
	$1 == "rps" { t($2 " req/s >= 0.85 x (a)", $3, $3 >= 0.85, spread()) }
	$1 == "rps80" { t($2 " req/s >= 0.80 x (a)", $3, $3 >= 0.80, spread()) }
	$1 == "p99" { t($2 " p99 <= 1.5 x (a)", $3, $3 <= 1.5) }
	$1 == "lookups" { t($2 " < 0.01 lookups/request after 1 s", $3, $3 < 0.01) }
	$1 == "queries" { t($2 " < 0.01 store queries/request after 1 s", $3, $3 < 0.01) }
	$1 == "flat" { r = $3 / $4; t($2 " req/s 1M / 1k within 1.3 x", r, r >= 1 / 1.3 && r <= 1.3) }
	$1 == "flat99" { r = $3 / $4; t($2 " p99 1M / 1k within 1.3 x", r, r >= 1 / 1.3 && r <= 1.3) }
	$1 == "refused" {
		what = $2 == "probe_quiet" ? "probe on its own" : "probe during (d2)"
		t(what ": 0 of " $4 " refused on first use", $3, $3 == 0 && $4 > 0)
	}
	# The rounds of a req/s target, lowest to highest: how far one run
	# can be trusted.
	function spread() { return NF >= 5 && $4 != $5 ? sprintf("  (rounds %.2f-%.2f)", $4, $5) : "" }
	function t(what, v, ok, note) { printf "  %-52s %8.4f  %s%s\n", what, v, ok ? "met" : "MISSED", note }'
echo
echo "Run time: $((run_end - run_start)) s (build and seeding included)."
