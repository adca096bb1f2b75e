# servers.sh: what scripts/loadtest.sh and scripts/perfdiff.sh share to
# start the servers they measure. Sourced, not run.

# The servers must not pick up the caller's configuration (a
# KEYWARDEN_DATABASE_URL would point them at PostgreSQL).
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

# waitfor URL PID [any]: wait until URL answers with a success (with any,
# with any status), or fail if PID died.
waitfor() {
	local i opts=(-s -o /dev/null)
	[[ ${3:-} == any ]] || opts+=(-f)
	for i in $(seq 1 200); do
		curl "${opts[@]}" "$1" && return 0
		kill -0 "$2" 2>/dev/null || {
			echo "${0##*/}: server for $1 exited" >&2
			return 1
		}
		sleep 0.05
	done
	echo "${0##*/}: $1 did not come up" >&2
	return 1
}
