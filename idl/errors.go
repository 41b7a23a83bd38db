package idl

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// An Error is a problem in an IDL file at a position. Its Error method
// prints "file:line:col: message", like go/scanner.
type Error struct {
	Pos lexer.Position
	Msg string
}

func (e *Error) Error() string {
	if e.Pos.Filename != "" || e.Pos.Line > 0 {
		return posString(e.Pos) + ": " + e.Msg
	}
	return e.Msg
}

// posString prints a position as "file:line:col" (or "line:col" without a
// file name).
func posString(p lexer.Position) string {
	s := fmt.Sprintf("%d:%d", p.Line, p.Column)
	if p.Filename != "" {
		s = p.Filename + ":" + s
	}
	return s
}

// ErrorList is a list of *Error, in the manner of go/scanner.ErrorList.
// The zero value is an empty list ready to use.
type ErrorList []*Error

// Add appends an error at pos.
func (l *ErrorList) Add(pos lexer.Position, msg string) {
	*l = append(*l, &Error{Pos: pos, Msg: msg})
}

// Reset empties the list.
func (l *ErrorList) Reset() { *l = (*l)[:0] }

// Len, Swap and Less implement sort.Interface: by file name, line, column,
// then message.
func (l ErrorList) Len() int      { return len(l) }
func (l ErrorList) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l ErrorList) Less(i, j int) bool {
	e, f := l[i].Pos, l[j].Pos
	if e.Filename != f.Filename {
		return e.Filename < f.Filename
	}
	if e.Line != f.Line {
		return e.Line < f.Line
	}
	if e.Column != f.Column {
		return e.Column < f.Column
	}
	return l[i].Msg < l[j].Msg
}

// Sort sorts the list by position (stably, so that errors at the same
// position keep the order of their messages).
func (l ErrorList) Sort() { sort.Stable(l) }

// RemoveMultiples sorts the list and removes all but the first error per
// line, as go/scanner does.
func (l *ErrorList) RemoveMultiples() {
	l.Sort()
	var last lexer.Position
	i := 0
	for _, e := range *l {
		if e.Pos.Filename != last.Filename || e.Pos.Line != last.Line {
			last = e.Pos
			(*l)[i] = e
			i++
		}
	}
	*l = (*l)[:i]
}

// Error prints the first error and how many more there are.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0], len(l)-1)
}

// Err returns the list as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// PrintErrors writes every error of err to w, one per line, when err is an
// ErrorList (or an *Error); any other error is written as is.
func PrintErrors(w io.Writer, err error) {
	var b strings.Builder
	switch e := err.(type) {
	case ErrorList:
		for _, x := range e {
			b.WriteString(x.Error())
			b.WriteByte('\n')
		}
	case nil:
	default:
		b.WriteString(err.Error())
		b.WriteByte('\n')
	}
	io.WriteString(w, b.String())
}
