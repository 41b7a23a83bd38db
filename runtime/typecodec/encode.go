package typecodec

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// path is the place of a value in the payload, for error messages: it is
// built only when an error is reported.
type path []pathElem

type pathElem struct {
	name  string // a field, or "" for an element
	index int
}

func (p path) String() string {
	var b strings.Builder
	for _, e := range p {
		if e.name == "" {
			b.WriteString("[" + strconv.Itoa(e.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.name)
	}
	return b.String()
}

func (p path) errorf(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if len(p) == 0 {
		return fmt.Errorf("payload: %s", msg)
	}
	return fmt.Errorf("field %q: %s", p.String(), msg)
}

// AppendJSON appends the JSON form of payload, a value of t, to dst (see
// the package documentation for how each kind is written). payload must
// be exactly Size() bytes. It fails, naming the field, on a string or a
// sequence whose stored length exceeds its capacity.
func (t *Type) AppendJSON(dst []byte, payload []byte) ([]byte, error) {
	if len(payload) != t.size {
		return dst, fmt.Errorf("payload has %d bytes, %s has %d", len(payload), t.text, t.size)
	}
	var p path
	return t.appendValue(dst, payload, &p)
}

func (t *Type) appendValue(dst, b []byte, p *path) ([]byte, error) {
	switch t.kind {
	case Bool:
		switch b[0] {
		case 0:
			return append(dst, "false"...), nil
		case 1:
			return append(dst, "true"...), nil
		}
		return strconv.AppendUint(dst, uint64(b[0]), 10), nil
	case Char:
		return appendString(dst, string(rune(b[0]))), nil
	case Octet, Uint:
		return strconv.AppendUint(dst, readUint(b, t.size), 10), nil
	case Int:
		return strconv.AppendInt(dst, readInt(b, t.size), 10), nil
	case Float:
		return appendFloat(dst, b, t.size), nil
	case Complex:
		h := t.size / 2
		dst = append(dst, '[')
		dst = appendFloat(dst, b[:h], h)
		dst = append(dst, ',')
		dst = appendFloat(dst, b[h:], h)
		return append(dst, ']'), nil
	case Enum:
		v := readUint(b, t.size)
		if name, ok := t.enumName(v); ok {
			return appendString(dst, name), nil
		}
		return strconv.AppendUint(dst, v, 10), nil
	case String:
		n := binary.NativeEndian.Uint64(b[t.lenOff:])
		if n > uint64(t.n) {
			return dst, p.errorf("stored length %d exceeds the capacity %d", n, t.n)
		}
		return appendBytesAsString(dst, b[:n]), nil
	case Sequence:
		n := binary.NativeEndian.Uint64(b[t.lenOff:])
		if n > uint64(t.n) {
			return dst, p.errorf("stored length %d exceeds the capacity %d", n, t.n)
		}
		return t.appendElems(dst, b, int(n), t.elem.size, p)
	case Array:
		return t.appendElems(dst, b, t.n, t.stride, p)
	case Struct:
		dst = append(dst, '{')
		first := true
		for i := range t.fields {
			f := &t.fields[i]
			if f.Type == nil {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, f.Name)
			dst = append(dst, ':')
			*p = append(*p, pathElem{name: f.Name})
			var err error
			dst, err = f.Type.appendValue(dst, b[f.Offset:f.Offset+f.Size], p)
			if err != nil {
				return dst, err
			}
			*p = (*p)[:len(*p)-1]
		}
		return append(dst, '}'), nil
	}
	// Opaque
	dst = append(dst, '"')
	const hex = "0123456789abcdef"
	for _, c := range b {
		dst = append(dst, hex[c>>4], hex[c&15])
	}
	return append(dst, '"'), nil
}

func (t *Type) appendElems(dst, b []byte, n, stride int, p *path) ([]byte, error) {
	dst = append(dst, '[')
	e := t.elem
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		*p = append(*p, pathElem{index: i})
		var err error
		dst, err = e.appendValue(dst, b[i*stride:i*stride+e.size], p)
		if err != nil {
			return dst, err
		}
		*p = (*p)[:len(*p)-1]
	}
	return append(dst, ']'), nil
}

func readUint(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.NativeEndian.Uint16(b))
	case 4:
		return uint64(binary.NativeEndian.Uint32(b))
	}
	return binary.NativeEndian.Uint64(b)
}

func readInt(b []byte, size int) int64 {
	switch size {
	case 1:
		return int64(int8(b[0]))
	case 2:
		return int64(int16(binary.NativeEndian.Uint16(b)))
	case 4:
		return int64(int32(binary.NativeEndian.Uint32(b)))
	}
	return int64(binary.NativeEndian.Uint64(b))
}

func appendFloat(dst, b []byte, size int) []byte {
	var f float64
	bits := 64
	if size == 4 {
		f, bits = float64(math.Float32frombits(binary.NativeEndian.Uint32(b))), 32
	} else {
		f = math.Float64frombits(binary.NativeEndian.Uint64(b))
	}
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Inf"`...)
	}
	return appendNumber(dst, f, bits)
}

// appendNumber writes f as encoding/json does: the shortest decimal that
// reads back as f, without an exponent when 1e-6 <= |f| < 1e21, with a
// two-digit-at-least exponent trimmed of its zero ("1e-7", not "1e-07").
func appendNumber(dst []byte, f float64, bits int) []byte {
	a := math.Abs(f)
	format := byte('f')
	if a != 0 && (a < 1e-6 || a >= 1e21) {
		if bits == 32 {
			if a32 := float32(a); a32 < 1e-6 || a32 >= 1e21 {
				format = 'e'
			}
		} else {
			format = 'e'
		}
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// "1e-07" -> "1e-7"
		if n := len(dst) - start; n >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-3] == '-' && dst[len(dst)-2] == '0' {
			dst[len(dst)-2] = dst[len(dst)-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

// appendBytesAsString appends b as a JSON string; bytes that are not
// UTF-8 become U+FFFD.
func appendBytesAsString(dst, b []byte) []byte {
	dst = append(dst, '"')
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		dst = appendRune(dst, r)
		b = b[n:]
	}
	return append(dst, '"')
}

func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for _, r := range s {
		dst = appendRune(dst, r)
	}
	return append(dst, '"')
}

func appendRune(dst []byte, r rune) []byte {
	switch {
	case r == '"' || r == '\\':
		return append(dst, '\\', byte(r))
	case r == '\n':
		return append(dst, '\\', 'n')
	case r == '\r':
		return append(dst, '\\', 'r')
	case r == '\t':
		return append(dst, '\\', 't')
	case r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029:
		const hex = "0123456789abcdef"
		return append(dst, '\\', 'u', hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15])
	}
	return utf8.AppendRune(dst, r)
}
