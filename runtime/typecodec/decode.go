package typecodec

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FromJSON writes the value that js holds into payload, which must be
// exactly Size() bytes: it zeroes payload, then writes the fields that js
// names, so that fields, elements and bytes it leaves out (padding
// included) are zero. It accepts what AppendJSON writes, and also a
// number for an enum and for a char. It rejects, with an error that names
// the field path (`field "points[3].x": wants a number, found string`),
// unknown and repeated fields, values of the wrong JSON type, integers out
// of range or with a fraction, strings longer than their capacity,
// sequences longer than theirs, arrays of another length, null, and
// anything after the value. On error, payload holds a partly written
// value.
func (t *Type) FromJSON(payload []byte, js []byte) error {
	if len(payload) != t.size {
		return fmt.Errorf("payload has %d bytes, %s has %d", len(payload), t.text, t.size)
	}
	clear(payload)
	d := &decoder{dec: json.NewDecoder(bytes.NewReader(js))}
	d.dec.UseNumber()
	if err := t.decodeValue(d, payload); err != nil {
		return err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		if err == nil {
			return errors.New("invalid JSON: data after the value")
		}
		return fmt.Errorf("invalid JSON after the value: %v", err)
	}
	return nil
}

type decoder struct {
	dec  *json.Decoder
	path path
}

func (d *decoder) errorf(format string, args ...any) error { return d.path.errorf(format, args...) }

// token reads the next token; the end of the input is a syntax error.
func (d *decoder) token() (json.Token, error) {
	tok, err := d.dec.Token()
	if err == io.EOF {
		return nil, d.errorf("invalid JSON: unexpected end of input")
	}
	if err != nil {
		return nil, d.errorf("invalid JSON: %v", err)
	}
	return tok, nil
}

func found(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "object"
		case '[':
			return "array"
		}
		return "'" + v.String() + "'"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

func (d *decoder) wants(what string, tok json.Token) error {
	return d.errorf("wants %s, found %s", what, found(tok))
}

func (t *Type) decodeValue(d *decoder, b []byte) error {
	tok, err := d.token()
	if err != nil {
		return err
	}
	switch t.kind {
	case Bool:
		v, ok := tok.(bool)
		if !ok {
			return d.wants("a boolean", tok)
		}
		if v {
			b[0] = 1
		}
		return nil
	case Char:
		s, ok := tok.(string)
		if !ok {
			return d.wants("a one-character string", tok)
		}
		r, n := utf8.DecodeRuneInString(s)
		if n == 0 || n != len(s) || r > 0xff {
			return d.errorf("%q is not one character from U+0000 to U+00FF", s)
		}
		b[0] = byte(r)
		return nil
	case Octet, Uint, Int:
		num, ok := tok.(json.Number)
		if !ok {
			return d.wants("a number", tok)
		}
		return d.putInt(b, t, string(num))
	case Float:
		return d.putFloat(b, t.size, t.text, tok)
	case Complex:
		if tok != json.Delim('[') {
			return d.wants("an array [re, im]", tok)
		}
		h := t.size / 2
		for i := range 2 {
			d.path = append(d.path, pathElem{index: i})
			tok, err := d.token()
			if err != nil {
				return err
			}
			if tok == json.Delim(']') {
				d.path = d.path[:len(d.path)-1]
				return d.errorf("wants 2 elements, found %d", i)
			}
			if err := d.putFloat(b[i*h:(i+1)*h], h, t.text, tok); err != nil {
				return err
			}
			d.path = d.path[:len(d.path)-1]
		}
		return d.end(2, true)
	case Enum:
		switch v := tok.(type) {
		case string:
			for _, e := range t.enums {
				if e.Name == v {
					putUint(b, t.size, e.Value)
					return nil
				}
			}
			return d.errorf("%q is not an enumerator of %s", v, t.name)
		case json.Number:
			return d.putInt(b, t, string(v))
		}
		return d.wants("an enumerator name or a number", tok)
	case String:
		s, ok := tok.(string)
		if !ok {
			return d.wants("a string", tok)
		}
		if len(s) > t.n {
			return d.errorf("%d bytes exceed the capacity %d", len(s), t.n)
		}
		copy(b, s)
		binary.NativeEndian.PutUint64(b[t.lenOff:], uint64(len(s)))
		return nil
	case Sequence, Array:
		if tok != json.Delim('[') {
			return d.wants("an array", tok)
		}
		stride := t.stride
		if t.kind == Sequence {
			stride = t.elem.size
		}
		n := 0
		for d.dec.More() {
			if n == t.n {
				return d.tooMany(t.n, t.kind == Array)
			}
			d.path = append(d.path, pathElem{index: n})
			if err := t.elem.decodeValue(d, b[n*stride:n*stride+t.elem.size]); err != nil {
				return err
			}
			d.path = d.path[:len(d.path)-1]
			n++
		}
		if t.kind == Sequence {
			binary.NativeEndian.PutUint64(b[t.lenOff:], uint64(n))
		}
		if t.kind == Array && n != t.n {
			return d.errorf("wants %d elements, found %d", t.n, n)
		}
		_, err := d.token() // ']'
		return err
	case Struct:
		if tok != json.Delim('{') {
			return d.wants("an object", tok)
		}
		seen := make([]bool, len(t.fields))
		for d.dec.More() {
			tok, err := d.token()
			if err != nil {
				return err
			}
			key, _ := tok.(string) // json.Decoder allows only strings here
			i := t.field(key)
			d.path = append(d.path, pathElem{name: key})
			if i < 0 {
				return d.errorf("%s has no such field", t.text)
			}
			if seen[i] {
				return d.errorf("given twice")
			}
			seen[i] = true
			f := &t.fields[i]
			if err := f.Type.decodeValue(d, b[f.Offset:f.Offset+f.Size]); err != nil {
				return err
			}
			d.path = d.path[:len(d.path)-1]
		}
		_, err := d.token() // '}'
		return err
	}
	// Opaque
	s, ok := tok.(string)
	if !ok {
		return d.wants("a string of hex digits", tok)
	}
	if len(s) != 2*len(b) {
		return d.errorf("wants %d hex digits, found %d", 2*len(b), len(s))
	}
	if _, err := hex.Decode(b, []byte(s)); err != nil {
		return d.errorf("%v", err)
	}
	return nil
}

// field returns the index of the field called name, or -1.
func (t *Type) field(name string) int {
	if name == "" {
		return -1
	}
	for i := range t.fields {
		if t.fields[i].Name == name {
			return i
		}
	}
	return -1
}

// end reads the closing bracket of an array of exactly n elements, or
// reports that it has more.
func (d *decoder) end(n int, exact bool) error {
	if d.dec.More() {
		return d.tooMany(n, exact)
	}
	_, err := d.token()
	return err
}

// tooMany counts the rest of an array that has more than capacity
// elements (exactly capacity, if exact) and reports it.
func (d *decoder) tooMany(capacity int, exact bool) error {
	n := capacity
	for d.dec.More() {
		var skip json.RawMessage
		if err := d.dec.Decode(&skip); err != nil {
			return d.errorf("invalid JSON: %v", err)
		}
		n++
	}
	if exact {
		return d.errorf("wants %d elements, found %d", capacity, n)
	}
	return d.errorf("%d elements exceed the capacity %d", n, capacity)
}

func (d *decoder) putInt(b []byte, t *Type, s string) error {
	name := t.text
	bits := t.size * 8
	if t.kind == Int {
		v, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return d.intError(s, name, err)
		}
		putUint(b, t.size, uint64(v))
		return nil
	}
	if strings.HasPrefix(s, "-") && isInteger(s[1:]) {
		return d.errorf("%s is out of range for %s", s, name)
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return d.intError(s, name, err)
	}
	putUint(b, t.size, v)
	return nil
}

func isInteger(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (d *decoder) intError(s, name string, err error) error {
	if errors.Is(err, strconv.ErrRange) {
		return d.errorf("%s is out of range for %s", s, name)
	}
	return d.errorf("wants an integer, found %s", s)
}

func (d *decoder) putFloat(b []byte, size int, name string, tok json.Token) error {
	bits := size * 8
	var f float64
	switch v := tok.(type) {
	case json.Number:
		var err error
		f, err = strconv.ParseFloat(string(v), bits)
		if err != nil {
			return d.errorf("%s is out of range for %s", v, name)
		}
	case string:
		switch v {
		case "NaN":
			f = math.NaN()
		case "+Inf":
			f = math.Inf(1)
		case "-Inf":
			f = math.Inf(-1)
		default:
			return d.errorf("wants a number, found string") // "NaN", "+Inf" and "-Inf" are the strings it takes
		}
	default:
		return d.wants("a number", tok)
	}
	if size == 4 {
		binary.NativeEndian.PutUint32(b, math.Float32bits(float32(f)))
	} else {
		binary.NativeEndian.PutUint64(b, math.Float64bits(f))
	}
	return nil
}

func putUint(b []byte, size int, v uint64) {
	switch size {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.NativeEndian.PutUint16(b, uint16(v))
	case 4:
		binary.NativeEndian.PutUint32(b, uint32(v))
	default:
		binary.NativeEndian.PutUint64(b, v)
	}
}
