#!/bin/sh
# Detects (and where possible installs) what the cross-language tests need:
# gcc and make for the generated C headers, the C library (lang/c) and the
# conformance suite (conformance/); g++ for the C++ wrapper; clang with its libFuzzer for the short
# fuzzing run of the C static-config parser; rustc for the generated Rust.
# It says what it installs, and how; a missing tool makes the tests that
# need it skip with a message naming it.

# apt_install PACKAGE: installs a Debian package (as root, with apt-get).
updated=
apt_install() {
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "tools: installing $1 needs root and apt-get; not installed"
		return 1
	fi
	echo "tools: installing Debian's package $1 (apt-get install -y $1)"
	log=$(mktemp "${TMPDIR:-/tmp}/iox2go-tools.XXXXXX")
	if [ -z "$updated" ]; then
		apt-get update -qq >"$log" 2>&1 || true
		updated=1
	fi
	if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >>"$log" 2>&1; then
		echo "tools: installed $1"
		rm -f "$log"
		return 0
	fi
	echo "tools: installing $1 failed; apt-get said:"
	tail -n 20 "$log"
	rm -f "$log"
	return 1
}

command -v gcc >/dev/null 2>&1 || { echo "tools: gcc not found"; apt_install gcc; }
command -v make >/dev/null 2>&1 || { echo "tools: make not found"; apt_install make; }
command -v g++ >/dev/null 2>&1 || { echo "tools: g++ not found (for the C++ wrapper)"; apt_install g++; }
# clang is only for the libFuzzer run; its absence is a skip, not a failure.
command -v clang >/dev/null 2>&1 || { echo "tools: clang not found (for libFuzzer)"; apt_install clang || true; }

for t in gcc g++ make clang rustc; do
	if command -v $t >/dev/null 2>&1; then
		echo "tools: $t: $($t --version | head -n 1)"
	else
		case $t in
		gcc) echo "tools: gcc: NOT FOUND; the tests that compile generated C, the C library's tests and the conformance suite's C side skip" ;;
		g++) echo "tools: g++: NOT FOUND; the tests that compile and run the C++ wrapper (lang/c/include/iox2go.hpp) skip" ;;
		make) echo "tools: make: NOT FOUND; the C library (make -C lang/c) cannot be built: the conformance suite's C side skips" ;;
		clang) echo "tools: clang: NOT FOUND; the libFuzzer run of the C static-config parser skips (its corpus replay under ASan still runs)" ;;
		*) echo "tools: $t: NOT FOUND; the tests that compile generated code with $t will skip" ;;
		esac
	fi
done
