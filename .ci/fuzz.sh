#!/bin/sh
# Runs every fuzz target of the module for a short time (FUZZTIME, default
# 3s each): everything that decodes what another process wrote, and the IDL
# front end. The seed corpora also run in every plain `go test`.
#
# Go 1.26's fuzz coordinator sometimes fails a target with a bare "context
# deadline exceeded" at the end of -fuzztime, having found nothing
# (golang/go#75804, fixed in Go 1.27). Such a run, with no failing input
# written, is run again, up to twice; a real failure writes its input to
# testdata/fuzz and fails at once.
set -eu
t=${FUZZTIME:-3s}
log=$(mktemp "${TMPDIR:-/tmp}/iox2go-fuzz.XXXXXX")
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "fuzz: $pkg $f ($t)"
		tries=0
		until go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" >"$log" 2>&1; do
			tries=$((tries + 1))
			if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log" && [ "$tries" -le 2 ]; then
				echo "fuzz: $f: the coordinator's deadline race (golang/go#75804), nothing found; running it again"
				continue
			fi
			cat "$log"
			exit 1
		done
	done
done
