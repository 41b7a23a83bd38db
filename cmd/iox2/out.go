package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// marshalJSON is json.Marshal (indented with indent != "") without
// json.Marshal's HTML escaping: "->" stays "->", not "-\u003e". Every JSON
// that the CLI writes goes through it. The result ends in a newline.
func marshalJSON(v any, indent string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// printJSON writes v as indented JSON and a newline.
func printJSON(w io.Writer, v any) error {
	b, err := marshalJSON(v, "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// printJSONLine writes v as one line of JSON (for streams: one message per
// line).
func printJSONLine(w io.Writer, v any) error {
	b, err := marshalJSON(v, "")
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// writeJSONError reports err on stderr as {"error": ..., "exit_code": ...}
// for scripts that asked for --json.
func writeJSONError(w io.Writer, err error, code int) {
	printJSONLine(w, struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
	}{errorText(err), code})
}

// table writes aligned columns: a header row, then the rows.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// The runtime's errors start with "iox2: " (its sentinels, such as
// "iox2: invalid service name", and its wrapped errors, such as
// "iox2: config: open FILE: ..."), and so does every line that iox2 prints
// on stderr. errorText and printMessage keep it to one "iox2: " a line.

// errorText is err's message as iox2 prints it: without the runtime's
// "iox2: " prefixes (at the start of a line or of a wrapped error), and
// with a *runtime.ServiceError whose detail repeats its sentinel ("open
// service "": invalid service name: invalid service name "": ...") said
// once. Lines (errors.Join of several, such as a configuration file's
// errors) stay lines.
func errorText(err error) string {
	msg := err.Error()
	var se *iox2.ServiceError
	if errors.As(err, &se) {
		msg = strings.Replace(msg, se.Error(), serviceErrorText(se), 1)
	}
	return stripIox2(msg)
}

// serviceErrorText is se's message without a detail that repeats the
// sentinel.
func serviceErrorText(se *iox2.ServiceError) string {
	s := fmt.Sprintf("%s service %q: ", se.Op, se.Service)
	sentinel := stripIox2(fmt.Sprint(se.Err))
	detail := stripIox2(se.Detail)
	detail = strings.TrimPrefix(detail, sentinel+": ")
	switch {
	case detail == "":
		return s + sentinel
	case strings.HasPrefix(detail, sentinel):
		return s + detail // "invalid service name \"\": must not be empty"
	}
	return s + sentinel + ": " + detail
}

// stripIox2 removes "iox2: " where it starts a line of msg or follows
// ": " (a wrapped error), outside double-quoted strings (a quoted service
// name keeps what it holds).
func stripIox2(msg string) string {
	const p = "iox2: "
	lines := strings.Split(msg, "\n")
	for i, line := range lines {
		for strings.HasPrefix(line, p) {
			line = line[len(p):]
		}
		var b strings.Builder
		quoted := false
		for j := 0; j < len(line); j++ {
			c := line[j]
			switch {
			case quoted && c == '\\' && j+1 < len(line):
				b.WriteByte(c)
				j++
				c = line[j]
			case c == '"':
				quoted = !quoted
			case !quoted && c == ':' && strings.HasPrefix(line[j+1:], " "+p):
				b.WriteString(": ")
				j += len(p) + 1 // the space and the prefix
				for strings.HasPrefix(line[j+1:], p) {
					j += len(p)
				}
				continue
			}
			b.WriteByte(c)
		}
		lines[i] = b.String()
	}
	return strings.Join(lines, "\n")
}

// printMessage writes msg to w, every line of it prefixed with "iox2: "
// and kind ("" for an error, "warning: " for a warning): a configuration
// file's several errors are several lines, each "iox2: FILE:LINE:COL: ...".
func printMessage(w io.Writer, kind, msg string) {
	for _, line := range strings.Split(msg, "\n") {
		fmt.Fprintf(w, "iox2: %s%s\n", kind, line)
	}
}
