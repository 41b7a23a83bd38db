#!/bin/sh
# Detects (and where possible installs) what the cross-language tests need:
# gcc for the generated C headers, rustc for the generated Rust. A missing
# tool makes the tests that need it skip with a message naming it.
if ! command -v gcc >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "tools: installing gcc"; (apt-get update -qq && apt-get install -y -qq gcc) >/dev/null 2>&1 || true
	fi
fi
for t in gcc rustc; do
	if command -v $t >/dev/null 2>&1; then
		echo "tools: $t: $($t --version | head -n 1)"
	else
		echo "tools: $t: NOT FOUND; the tests that compile generated code with $t will skip"
	fi
done
