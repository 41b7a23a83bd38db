#!/bin/sh
# Runs every fuzz target of the module for a short time (FUZZTIME, default
# 3s each): everything that decodes what another process wrote, and the IDL
# front end. The seed corpora also run in every plain `go test`.
set -eu
t=${FUZZTIME:-3s}
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "fuzz: $pkg $f ($t)"
		go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" >/tmp/iox2go-fuzz.log 2>&1 || { cat /tmp/iox2go-fuzz.log; exit 1; }
	done
done
rm -f /tmp/iox2go-fuzz.log
