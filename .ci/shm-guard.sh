#!/bin/sh
# shm-guard.sh: fails when this run of the test suite left files in the
# shared-memory directory. `make test` sets IOX2GO_TEST_RUN to a fresh tag
# and every prefix the project's tests make carries it (internal/testrun),
# so only this run's files are looked at: another run at the same time, or
# any other program's segments, are none of its business.
set -eu
tag=${IOX2GO_TEST_RUN:-}
case "$tag" in
"" | *[!A-Za-z0-9]*)
	echo "shm-guard: IOX2GO_TEST_RUN must be a tag of letters and digits (make test sets one)" >&2
	exit 2 ;;
esac
dir=${IOX2GO_SHM_DIR:-/dev/shm}
left=$(ls "$dir" 2>/dev/null | grep -F "$tag" || true)
if [ -n "$left" ]; then
	echo "shm-guard: the tests of run $tag left these in $dir:"
	echo "$left"
	exit 1
fi
echo "shm-guard: run $tag left nothing in $dir"
