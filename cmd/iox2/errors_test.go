package main

// Tests of how iox2 reports errors: one "iox2: " a line (the runtime's
// messages start with "iox2: " too), every line of a multi-line error
// prefixed, --json errors as one object, bad --root/--prefix as usage
// errors (exit code 2), flags named as the user typed them. Also the
// JSON encoding (no HTML escaping) and hz's stamp field names.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
	"github.com/iox2go/iox2go/runtime/typecodec"
)

// expectStderr fails t unless r exited with code and its stderr is
// exactly lines, each followed by a newline, and never says "iox2: iox2:".
func expectStderr(t *testing.T, r inspectResult, code int, lines ...string) {
	t.Helper()
	if want := strings.Join(lines, "\n") + "\n"; r.code != code || r.stderr != want {
		t.Errorf("want exit code %d and stderr\n%s\ngot %v", code, want, r)
	}
	if strings.Contains(r.stderr, "iox2: iox2:") {
		t.Errorf("doubled prefix: %v", r)
	}
}

func TestErrorMessages(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nonexist.toml")

	// A configuration file that does not exist: exit code 1.
	expectStderr(t, inspectRun(t, nil, "--config", missing, "node", "list"), exitFailure,
		"iox2: config: open "+missing+": no such file or directory")
	expectStderr(t, inspectRunEnv(t, []string{"IOX2GO_CONFIG=" + missing}, nil, "node", "list"), exitFailure,
		"iox2: config: $IOX2GO_CONFIG: stat "+missing+": no such file or directory")
	// and as JSON: one object, the message without the prefix.
	r := inspectRun(t, nil, "--config", missing, "node", "list", "--json")
	var je struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
	}
	dec := json.NewDecoder(strings.NewReader(r.stderr))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&je); err != nil || dec.More() || r.code != exitFailure || je.ExitCode != exitFailure ||
		je.Error != "config: open "+missing+": no such file or directory" {
		t.Errorf("--config of a missing file, --json: %v (%v)", r, err)
	}

	// Bad --prefix and --root: usage errors, exit code 2, for every
	// command (config show too), before or after the command.
	for _, args := range [][]string{
		{"--prefix", "a/b", "node", "list"},
		{"node", "list", "--prefix", "a/b"},
		{"--prefix", "a/b", "config", "show"},
		{"--prefix", "a/b", "--json", "service", "list"},
	} {
		expectStderr(t, inspectRun(t, nil, args...), exitUsage,
			`iox2: --prefix: prefix "a/b" may only contain letters, digits, '_', '-' and '.' (see iox2 --help)`)
	}
	expectStderr(t, inspectRun(t, nil, "--prefix", strings.Repeat("p", 65), "clean"), exitUsage,
		`iox2: --prefix: prefix "`+strings.Repeat("p", 65)+`" is longer than 64 bytes (see iox2 --help)`)
	expectStderr(t, inspectRun(t, nil, "--root", "relative", "node", "list"), exitUsage,
		`iox2: --root: root "relative" must be an absolute path (see iox2 --help)`)

	// A configuration file with several errors: every line prefixed, in
	// the file:line:col: key "...": form; as JSON the whole message.
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[global]\nno-such-key = 1\n[defaults.publish-subscribe]\nmax-publishers = \"x\"\n"), 0o644)
	lines := []string{
		`iox2: ` + bad + `:2:1: key "global.no-such-key": unknown key`,
		`iox2: ` + bad + `:4:18: key "defaults.publish-subscribe.max-publishers": wants an integer, found string`,
	}
	expectStderr(t, inspectRun(t, nil, "--config", bad, "node", "list"), exitFailure, lines...)
	expectStderr(t, inspectRun(t, nil, "--config", bad, "config", "show"), exitFailure, lines...)
	r = inspectRun(t, nil, "--config", bad, "service", "list", "--json")
	je.Error, je.ExitCode = "", 0
	if err := json.Unmarshal([]byte(r.stderr), &je); err != nil || strings.Count(r.stderr, "\n") != 1 || r.code != exitFailure ||
		je.ExitCode != exitFailure || je.Error != strings.ReplaceAll(strings.Join(lines, "\n"), "iox2: ", "") {
		t.Errorf("a file with two errors, --json: %v (%v)", r, err)
	}

	// Flags are named as typed.
	expectStderr(t, inspectRun(t, nil, "node", "list", "--bogus"), exitUsage,
		"iox2: node list: flag provided but not defined: --bogus (see iox2 node list --help)")
	expectStderr(t, inspectRun(t, nil, "-bogus", "node", "list"), exitUsage,
		"iox2: flag provided but not defined: -bogus (see iox2 --help)")

	// An empty service name: a usage error that says so once.
	cfg := iox2test.Config(t)
	for _, cmd := range []string{"notify", "listen", "subscribe", "hz"} {
		expectStderr(t, inspectRun(t, cfg, cmd, ""), exitUsage,
			`iox2: open service "": invalid service name "": must not be empty`)
	}
	inspectCheckNoShm(t, cfg)
}

func TestStripIox2(t *testing.T) {
	for _, c := range [][2]string{
		{"iox2: config: open x: no such file", "config: open x: no such file"},
		{"notify \"a\": iox2: notification delivered", "notify \"a\": notification delivered"},
		{"a: iox2: iox2: b", "a: b"},
		{"iox2: a\niox2: b: iox2: c", "a\nb: c"},
		{`open service "x: iox2: y": iox2: invalid`, `open service "x: iox2: y": invalid`},
		{`quoted "\"": iox2: z`, `quoted "\"": z`},
		{"file:1:2: key \"k\": msg", "file:1:2: key \"k\": msg"},
		{"no prefix at all", "no prefix at all"},
	} {
		if got := stripIox2(c[0]); got != c[1] {
			t.Errorf("stripIox2(%q) = %q, want %q", c[0], got, c[1])
		}
	}
	// A missed deadline, as notify warns about it.
	err := fmt.Errorf("%w: 3ms since the previous notification, deadline 1ms", iox2.ErrMissedDeadline)
	var b bytes.Buffer
	printMessage(&b, "warning: ", errorText(err))
	if want := "iox2: warning: notification delivered, but later than the service's deadline after the previous one: 3ms since the previous notification, deadline 1ms\n"; b.String() != want {
		t.Errorf("warning %q, want %q", b.String(), want)
	}
	// A ServiceError wrapped by a command, its detail not repeating the
	// sentinel.
	err = fmt.Errorf("publish %q: %w", "a", &iox2.ServiceError{Op: "open", Service: "a", Err: iox2.ErrIncompatibleTypes, Detail: "requested x, service has y"})
	if got, want := errorText(err), `publish "a": open service "a": incompatible payload types: requested x, service has y`; got != want {
		t.Errorf("errorText = %q, want %q", got, want)
	}
}

func TestFlagErrorText(t *testing.T) {
	parse := func(args ...string) string {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(new(bytes.Buffer))
		fs.Bool("json", false, "")
		fs.Int("count", 0, "")
		err := fs.Parse(args)
		if err == nil {
			t.Fatalf("%v: no error", args)
		}
		return flagErrorText(err, args)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "flag provided but not defined: --bogus"},
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--bogus=1"}, "flag provided but not defined: --bogus"},
		{[]string{"--count"}, "flag needs an argument: --count"},
		{[]string{"--count", "x"}, `invalid value "x" for flag --count: parse error`},
		{[]string{"-count=x"}, `invalid value "x" for flag -count: parse error`},
		{[]string{"--json=maybe"}, `invalid boolean value "maybe" for --json: parse error`},
	} {
		if got := parse(c.args...); got != c.want {
			t.Errorf("%v: %q, want %q", c.args, got, c.want)
		}
	}
	if got := flagErrorText(errors.New("bad flag syntax: ---x"), []string{"---x"}); got != "bad flag syntax: ---x" {
		t.Errorf("bad flag syntax: %q", got)
	}
}

// TestJSONNotHTMLEscaped checks that the JSON of the CLI keeps "->", "<"
// and "&" as they are.
func TestJSONNotHTMLEscaped(t *testing.T) {
	var b bytes.Buffer
	if err := printJSONLine(&b, map[string]string{"payload": "a::Req -> a::Resp", "type": "string<32> & more"}); err != nil {
		t.Fatal(err)
	}
	if want := `{"payload":"a::Req -> a::Resp","type":"string<32> & more"}` + "\n"; b.String() != want {
		t.Errorf("printJSONLine: %q, want %q", b.String(), want)
	}
	b.Reset()
	printJSON(&b, []string{"->"})
	if want := "[\n  \"->\"\n]\n"; b.String() != want {
		t.Errorf("printJSON: %q, want %q", b.String(), want)
	}
}

// TestHzStampFieldNames checks that hz finds the send time in a field of
// the IDL's name (iox2gen keeps it) and in one of the Go spelling, which
// a layout derived from a plain Go type by reflection has.
func TestHzStampFieldNames(t *testing.T) {
	parse := func(layout string) *typecodec.Type {
		t.Helper()
		ty, err := typecodec.Parse(iox2.TypeInfo{Name: "main.t", Size: 16, Align: 8, LayoutHash: "ab", Layout: layout})
		if err != nil {
			t.Fatalf("%q: %v", layout, err)
		}
		return ty
	}
	for _, c := range []struct {
		header, payload string // reflection layouts ("" for none)
		field           string // the stamp field found, "" for none
		offset          int
	}{
		{"", "0 8 Seq uint64\n8 8 StampNs uint64\n", "StampNs", 8},
		{"", "0 8 TimestampNs int64\n8 8 Seq uint64\n", "TimestampNs", 0},
		{"0 8 StampNs uint64\n8 8 Seq uint64\n", "0 8 TimestampNs uint64\n8 8 Seq uint64\n", "header.StampNs", 0},
		{"", "0 8 Seq uint64\n8 8 Stampns uint64\n", "", 0},
		{"", "0 4 StampNs uint32\n8 8 Seq uint64\n", "", 0},
	} {
		cd := &codec{payload: parse(c.payload)}
		if c.header != "" {
			cd.header = parse(c.header)
		}
		loc, ok := findStamp(cd)
		if ok != (c.field != "") || loc.field != c.field || loc.offset != c.offset {
			t.Errorf("header %q, payload %q: found %v %+v, want %q at %d", c.header, c.payload, ok, loc, c.field, c.offset)
		}
	}
}

// TestPortJSONKeys checks that a subscriber's buffer_size and
// history_request, and a client's max_active_requests, are there when 0,
// and that other ports have none of them.
func TestPortJSONKeys(t *testing.T) {
	node := svcPortNodeJSON{ID: "0123456789abcdef", Name: "n<1>", PID: 1, State: "alive"}
	for _, c := range []struct {
		port svcPortJSON
		want string
	}{
		{svcPortJSON{ID: "a", Node: node, kind: "subscriber"}, `,"buffer_size":0,"history_request":0}`},
		{svcPortJSON{ID: "a", Node: node, kind: "client"}, `,"max_active_requests":0}`},
		{svcPortJSON{ID: "a", Node: node, BufferSize: 3, kind: "publisher"}, `}`},
	} {
		var b bytes.Buffer
		printJSONLine(&b, c.port)
		want := `{"id":"a","node":{"id":"0123456789abcdef","name":"n<1>","pid":1,"state":"alive"}` + c.want + "\n"
		if b.String() != want {
			t.Errorf("%s port: %s, want %s", c.port.kind, b.String(), want)
		}
	}
}
