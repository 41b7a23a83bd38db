// Iox2gen generates Go, C and Rust code from iox2 IDL files: fixed-layout
// payload types, with their layouts checked at compile time in every
// language, and typed publish-subscribe services for the iox2go runtime.
//
// Usage:
//
//	iox2gen [-out DIR] [-package NAME] [-lang go,c,rust] [-check] [-all-errors] FILE.idl...
//
// For each FILE.idl, iox2gen writes into DIR (default: the current
// directory):
//
//	FILE.iox2.go   Go: structs with explicit padding, string and sequence
//	               types, enums, constants, type identities, and service,
//	               publisher and subscriber builders preset with the
//	               settings the IDL declares
//	FILE.iox2.h    C (C11, and C++11 and later): the same structs,
//	               _Static_assert on every size, alignment and offset,
//	               type identities and service settings as macros; needs
//	               no library
//	FILE.iox2.api.h  C: typed functions of iox2go's C library
//	               (lang/c/include/iox2go.h) for each service: open it,
//	               create its ports, loan and receive typed payloads
//	FILE.iox2.rs   Rust: #[repr(C)] structs, const assertions
//
// The flags are:
//
//	-out DIR
//		directory to write the files to (created if missing); default "."
//	-package NAME
//		package name of the generated Go code; default: the name of the
//		first top-level module of the first file, in lower case
//	-lang LIST
//		comma-separated languages to generate: go, c, rust; default all
//		(c writes both C headers)
//	-check
//		write nothing; exit with status 1 if any file on disk differs from
//		what iox2gen would write (a staleness check for CI), printing for
//		each stale file its first differing line:
//		FILE:LINE: stale: want "...", have "..." (run go generate)
//	-all-errors
//		report every error, not only the first 10 of each file
//	-version
//		print the version and exit
//
// The generated files record the path of the IDL file relative to DIR,
// so they do not depend on the directory iox2gen runs in.
//
// The exit status is 0 on success, 1 when an IDL file has errors, a file
// cannot be read or written, or -check finds stale files, and 2 on misuse
// (an unknown flag, a bad -lang, no input file). IDL errors are printed to
// standard error one per line as file:line:col: message.
//
// # Running iox2gen with go generate
//
// Put a go:generate line in a Go file of the package that receives the
// code, for example examples/gen/robot/doc.go:
//
//	//go:generate go run github.com/iox2go/iox2go/cmd/iox2gen -out . -package robot ../../idl/robot.idl
//
// and run go generate. Outside this module, pin the generator as a tool
// of your module (Go 1.24 and later):
//
//	go get -tool github.com/iox2go/iox2go/cmd/iox2gen
//
// which adds "tool github.com/iox2go/iox2go/cmd/iox2gen" to go.mod, then
// write:
//
//	//go:generate go tool iox2gen -package robot robot.idl
//
// The language is described in docs/IDL.md.
package main
