package idl

import (
	"strings"
	"unicode"
)

// GoCamel turns an IDL identifier into an exported Go name: it splits the
// name at underscores, upper-cases the first letter of each part and,
// where a part is entirely upper case ("MAX", "IDLE"), lower-cases the rest
// of it, then joins the parts: stamp_ns -> StampNs, MAX_NAME -> MaxName,
// Vec3 -> Vec3, IDLE -> Idle.
func GoCamel(name string) string {
	return camel(strings.Split(name, "_"))
}

// camel joins parts as GoCamel does.
func camel(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		upper := strings.ToUpper(p) == p && strings.ToLower(p) != p
		for i, r := range p {
			switch {
			case i == 0:
				b.WriteRune(unicode.ToUpper(r))
			case upper:
				b.WriteRune(unicode.ToLower(r))
			default:
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// ServiceGoName derives the Go name of a service from its service name:
// the CamelCase (as in GoCamel) of its segments, split at every character
// that is not an ASCII letter or digit, without a first segment equal
// (ignoring case) to topModule when more segments follow.
// "robot/imu" in module robot gives "Imu"; "My/Funk/ServiceName" in module
// examples gives "MyFunkServiceName". The result may be empty or start with
// a digit; the caller checks it.
func ServiceGoName(serviceName, topModule string) string {
	segs := strings.FieldsFunc(serviceName, func(r rune) bool {
		return !(r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)))
	})
	if len(segs) > 1 && strings.EqualFold(segs[0], topModule) {
		segs = segs[1:]
	}
	return camel(segs)
}

// keywords are the keywords of OMG IDL 4.2. An identifier that is spelled
// like one must be escaped with a leading underscore (_module).
var keywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`abstract any alias attribute bitfield bitmask bitset
		boolean case char component connector const consumes context custom default
		double emits enum eventtype exception factory FALSE finder fixed float getraises
		getter home import in inout int8 int16 int32 int64 interface local long manages
		map mirrorport module multiple native Object octet oneway out port porttype
		primarykey private provides public publishes raises readonly sequence setraises
		setter short string struct supports switch TRUE truncatable typedef typeid
		typename typeprefix uint8 uint16 uint32 uint64 union unsigned uses ValueBase
		valuetype void wchar wstring`) {
		keywords[k] = true
	}
}
