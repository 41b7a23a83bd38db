#!/bin/sh
# Detects (and where possible installs) what the cross-language tests need:
# gcc for the generated C headers, rustc for the generated Rust. It says what
# it installs, and how; a missing tool makes the tests that need it skip
# with a message naming it.
if ! command -v gcc >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "tools: gcc not found; installing Debian's package gcc (apt-get update; apt-get install -y gcc)"
		log=$(mktemp "${TMPDIR:-/tmp}/iox2go-tools.XXXXXX")
		if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc) >"$log" 2>&1; then
			echo "tools: installed gcc"
		else
			echo "tools: installing gcc failed; apt-get said:"; tail -n 20 "$log"
		fi
		rm -f "$log"
	else
		echo "tools: gcc not found, and installing it needs root and apt-get"
	fi
fi
for t in gcc rustc; do
	if command -v $t >/dev/null 2>&1; then
		echo "tools: $t: $($t --version | head -n 1)"
	else
		echo "tools: $t: NOT FOUND; the tests that compile generated code with $t will skip"
	fi
done
