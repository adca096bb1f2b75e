#!/usr/bin/env bash
# perfdiff.sh shows where Keywarden's server CPU per request goes beyond
# its mirror's, function by function (docs/performance.md, "Sixth look").
#
# The mirror of a case is the one of scripts/loadtest.sh: a bare net/http
# server (cmd/loadtest-bare -answer) answering the case's exact request
# with Keywarden's own answer to it, recorded with curl just before. So
# whatever the case costs beyond its mirror is Keywarden's: its code, and
# what that code makes the runtime and the kernel do.
#
# For each case, in -r rounds, it runs the mirror and then Keywarden under
# `perf record -g` (cpu-clock, 4999 Hz) during a wrk run, and prints per
# request, from the rounds together:
#   - the server CPU of each, split into groups: Keywarden's own functions
#     (self time), the Go runtime (scheduler, allocator, collector), the
#     rest of the Go code (net/http, crypto, ...), the kernel, the vDSO;
#   - the -t functions that cost the case the most beyond its mirror.
# perf's sampling slows both servers alike, so the figures are larger
# than loadtest.sh's; they are for the split, not for req/s.
#
# Cases: b (GET /api/v1/me, a valid key), c2 (/api/v1/auth/forward as
# nginx calls it), d1 (/api/v1/me with unknown keys from a pool of 1,000).
#
# Usage: scripts/perfdiff.sh [-d DURATION] [-r ROUNDS] [-t TOP] [-k] [CASE...]
#   -d  each wrk run (default 4s)    -r  rounds (default 2)
#   -t  functions listed (default 25)
#   -k  keep the perf data (CASE.N.data, CASE.mirror.N.data) and print
#       where, for perf report's call graphs
# Needs go, wrk, curl and perf (apt-get install linux-perf), with the
# right to profile another process (root, or kernel.perf_event_paranoid
# at most 1). About 25 s a case and round.
set -euo pipefail

duration=4s
rounds=2
top=25
keep=0
while getopts "d:r:t:kh" opt; do
	case $opt in
	d) duration=$OPTARG ;;
	r) rounds=$OPTARG ;;
	t) top=$OPTARG ;;
	k) keep=1 ;;
	*)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 2
		;;
	esac
done
shift $((OPTIND - 1))
cases=("$@")
((${#cases[@]})) || cases=(b c2 d1)
for tool in go wrk curl perf; do
	command -v "$tool" >/dev/null || {
		echo "perfdiff: $tool not found" >&2
		exit 1
	}
done

cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keywarden-perfdiff.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if ((keep)); then
		echo "perfdiff: the perf data is in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# freeport, waitfor; and the caller's KEYWARDEN_ variables unset.
. scripts/servers.sh

# start NAME CMD...: start a server on a free port; sets url and pid.
start() {
	local name=$1 addr
	shift
	addr=127.0.0.1:$(freeport)
	"$@" --addr "$addr" 2>"$tmp/$name.log" &
	pid=$!
	pids+=("$pid")
	url=http://$addr
	waitfor "$url/" "$pid" any || {
		echo "perfdiff: see $tmp/$name.log" >&2
		exit 1
	}
}

echo "== build and seed" >&2
go build -o "$tmp/keywarden" ./cmd/keywarden
go build -o "$tmp/bare" ./cmd/loadtest-bare
go build -o "$tmp/seed" ./cmd/loadtest-seed
"$tmp/seed" -data-dir "$tmp/data" -n 1000 -unknown 1000 >&2
cat >"$tmp/routes.yaml" <<'EOF'
routes:
  - route: GET /v1/processes/{processId}/files
    scopes: [workspace.file:download]
    process: processId
EOF
cat >"$tmp/pool.lua" <<'EOF'
reqs, n, i = {}, 0, 0
function init(args)
	for line in io.lines(args[1]) do
		n = n + 1
		reqs[n] = wrk.format("GET", "/api/v1/me", { ["Authorization"] = line })
	end
end
function request()
	i = i % n + 1
	return reqs[i]
end
EOF
# The settings of scripts/loadtest.sh's nodes: the default log level, and
# a throttle that counts every failure but never refuses.
start keywarden "$tmp/keywarden" serve --data-dir "$tmp/data" --routes "$tmp/routes.yaml" \
	--auth-failures-per-minute 1000000000
kw=$url kw_pid=$pid
pid_=$(tr -d '\n' <"$tmp/data/process.id")
valid="Authorization: Basic $(tr -d '\n' <"$tmp/data/valid.key" | base64 -w0)"
process="Authorization: Basic $(tr -d '\n' <"$tmp/data/process.key" | base64 -w0)"
# A node just started grows its heap into memory it has never touched:
# page faults that a node in service no longer takes. Run it past its
# first collections (gcfloor's 64 MB goal) before measuring.
wrk -t1 -c32 -d5s -H "$valid" "$kw/api/v1/me" >/dev/null

# record NAME PID WRK-ARGS...: one wrk run under perf record of PID;
# appends "event-count requests" to NAME.runs and the samples to NAME.N.data.
record() {
	local name=$1 p=$2 n out
	shift 2
	n=1
	[[ ! -f $tmp/$name.runs ]] || n=$(($(wc -l <"$tmp/$name.runs") + 1))
	perf record -q -F 4999 -g -p "$p" -o "$tmp/$name.$n.data" 2>/dev/null &
	local perf_pid=$!
	sleep 0.2
	out=$(wrk -t1 -c32 -d"$duration" "$@")
	kill -INT "$perf_pid"
	wait "$perf_pid" || true
	echo "$(perf report -i "$tmp/$name.$n.data" --stdio 2>/dev/null | awk '/Event count/ {print $NF}') $(awk '/requests in/ {print $1}' <<<"$out")" >>"$tmp/$name.runs"
	perf report -i "$tmp/$name.$n.data" --no-children --sort sym -g none --stdio 2>/dev/null |
		awk '/^ +[0-9.]+%/ {p=$1; sub("%", "", p); $1=""; print p "\t" substr($0, 2)}' >"$tmp/$name.$n.sym"
}

# persym NAME: "ns-per-request<TAB>[k] or [.] symbol" over NAME's runs:
# each run's samples (a share of its event count, in ns) over the
# requests of all the runs.
persym() {
	local reqs=0 e r n=0
	while read -r e r; do
		reqs=$((reqs + r))
	done <"$tmp/$1.runs"
	while read -r e r; do
		n=$((n + 1))
		awk -F'\t' -v w="$e" -v total="$reqs" '{printf "%.3f\t%s\n", $1 / 100 * w / total, $2}' "$tmp/$1.$n.sym"
	done <"$tmp/$1.runs" | awk -F'\t' '{ns[$2] += $1} END {for (s in ns) printf "%.1f\t%s\n", ns[s], s}'
}

# group: the group of a "[k] name" or "[.] name" symbol.
group='function group(s) {
	if (s ~ /^\[k\]/) return "kernel"
	if (s ~ /vdso/) return "vDSO"
	sub(/^\[\.\] /, "", s)
	if (s ~ /^github\.com\/keywarden\//) return "Keywarden"
	if (s ~ /^(runtime|internal\/runtime)[.\/]/ || s ~ /^(gcWriteBarrier|memeqbody|indexbytebody|aeshashbody)/) return "Go runtime"
	return "other Go"
}'

for c in "${cases[@]}"; do
	case $c in
	b) req=(-H "$valid" "$kw/api/v1/me") ;;
	c2) req=(-H "$process" -H "X-Original-Method: GET" -H "X-Original-URI: /v1/processes/$pid_/files" "$kw/api/v1/auth/forward") ;;
	d1) req=(-s "$tmp/pool.lua" "$kw/api/v1/me" -- "$tmp/data/unknown.basic") ;;
	*)
		echo "perfdiff: no case $c (b, c2, d1)" >&2
		exit 2
		;;
	esac
	echo "== ($c)" >&2
	if [[ $c == d1 ]]; then
		curl -sS -i -H "Authorization: $(head -1 "$tmp/data/unknown.basic")" "$kw/api/v1/me" >"$tmp/$c.answer"
	else
		curl -sS -i "${req[@]}" >"$tmp/$c.answer"
	fi
	start "$c.mirror" "$tmp/bare" -answer "$tmp/$c.answer"
	mirror_url=$url mirror_pid=$pid
	wrk -t1 -c32 -d1s "${req[@]}" >/dev/null # warm-up
	for _ in $(seq 1 "$rounds"); do
		record "$c.mirror" "$mirror_pid" "${req[@]/#"$kw"/"$mirror_url"}"
		record "$c" "$kw_pid" "${req[@]}"
	done
	kill "$mirror_pid"
	persym "$c" >"$tmp/$c.ns"
	persym "$c.mirror" >"$tmp/$c.mirror.ns"

	echo
	echo "($c) server CPU per request, ns (perf, $rounds rounds of $duration)"
	awk -F'\t' "$group"'
		FNR == 1 { f++ }
		{ g = group($2); v[f, g] += $1; v[f, "all"] += $1 }
		END {
			printf "  %-12s %9s %9s %9s\n", "", "case", "mirror", "beyond"
			n = split("all|Keywarden|Go runtime|other Go|kernel|vDSO", gs, "|")
			for (i = 1; i <= n; i++) {
				g = gs[i]
				printf "  %-12s %9.0f %9.0f %+9.0f\n", g, v[1, g], v[2, g], v[1, g] - v[2, g]
			}
		}' "$tmp/$c.ns" "$tmp/$c.mirror.ns"
	echo "  the $top functions that cost most beyond the mirror (self, ns per request):"
	awk -F'\t' 'FNR == 1 { f++ } { v[f, $2] = $1; s[$2] = 1 }
		END { for (k in s) printf "%+8.0f %8.0f %8.0f  %s\n", v[1, k] - v[2, k], v[1, k], v[2, k], k }' \
		"$tmp/$c.ns" "$tmp/$c.mirror.ns" | sort -rn |
		awk -v top="$top" 'BEGIN { printf "  %8s %8s %8s\n", "beyond", "case", "mirror" } NR <= top { print "  " $0 }'
done
