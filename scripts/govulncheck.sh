#!/usr/bin/env bash
# govulncheck.sh runs govulncheck on this module against an offline copy
# of the Go vulnerability database (docs/security.md, "Vulnerability
# scanning"). The machines reach the Go module proxy but not the live
# database, so the copy is a pinned snapshot of the golang.org/x/vulndb
# module: its data/osv entries, indexed by scripts/vulndbindex into the v1
# layout that `govulncheck -db file://...` reads.
#
# It fails when govulncheck finds a vulnerability in code that this module
# calls (govulncheck exits 3), and when the snapshot cannot be downloaded,
# holds no entries, or cannot be indexed. Vulnerabilities in packages or
# modules that are imported or required but not called are only counted
# in govulncheck's summary (pass -show verbose to see them).
#
# Usage: scripts/govulncheck.sh [govulncheck arguments, default ./...]
# Refresh the snapshot: change VULNDB_VERSION below to the pseudo-version
#   that `(cd /tmp && go list -m golang.org/x/vulndb@latest)` prints, after
#   a try with VULNDB_VERSION=v0.0.0-... scripts/govulncheck.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

GOVULNCHECK_VERSION=v1.9.0
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}

start=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# govulncheck itself, built from the module proxy into a folder of its own
# (not the project's go.mod: a tool requirement there would join x/tools,
# x/mod and x/telemetry to the module graph the project builds with).
GOBIN="$work/bin" go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"

# The database snapshot, through the module proxy and the module cache
# (checked against the Go checksum database like any module). Run outside
# this module so that nothing is added to go.mod or go.sum.
download=$(cd "$work" && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION") || {
	echo "govulncheck.sh: cannot download golang.org/x/vulndb@$VULNDB_VERSION:"
	echo "$download"
	exit 1
}
field() { sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" <<<"$download"; }
dir=$(field Dir)
info=$(field Info)
snapshot=$([ -f "$info" ] && sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info" || true)
if [ -z "$dir" ] || [ ! -d "$dir/data/osv" ] || [ -z "$snapshot" ]; then
	echo "govulncheck.sh: golang.org/x/vulndb@$VULNDB_VERSION has no data/osv or no commit time:"
	echo "$download"
	exit 1
fi

# Index it (fails on no entries or a malformed one).
summary=$(go run ./scripts/vulndbindex -osv "$dir/data/osv" -out "$work/db" -snapshot "$snapshot")
age=$((($(date +%s) - $(date -d "$snapshot" +%s)) / 86400))
echo "database: golang.org/x/vulndb@$VULNDB_VERSION, $summary"
echo "database date: $snapshot ($age days old; a pinned snapshot, not the live database)"

status=0
"$work/bin/govulncheck" -db "file://$work/db" "${@:-./...}" || status=$?
echo "govulncheck $GOVULNCHECK_VERSION exited $status after $(($(date +%s) - start)) s in all"
exit "$status"
