#!/bin/sh
# shm-guard.sh before|after: fails when the tests left files in /dev/shm.
set -eu
snap=${TMPDIR:-/tmp}/iox2go-shm-before.txt
case "$1" in
before) ls /dev/shm >"$snap" 2>/dev/null || true ;;
after)
	ls /dev/shm 2>/dev/null | sort >"$snap.after" || true
	left=$(sort "$snap" | comm -13 - "$snap.after")
	rm -f "$snap" "$snap.after"
	if [ -n "$left" ]; then
		echo "shm-guard: the tests left these in /dev/shm:"; echo "$left"; exit 1
	fi
	echo "shm-guard: nothing left in /dev/shm" ;;
esac
