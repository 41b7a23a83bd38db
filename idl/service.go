package idl

import (
	"fmt"
	"go/token"
	"sort"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/iox2go/iox2go/idl/internal/ast"
)

// iceoryx2's defaults for the QoS values that the consistency checks need
// when the IDL leaves them unset.
const (
	defaultHistorySize             = 0
	defaultSubscriberMaxBufferSize = 2
)

func (c *checker) checkService(sd serviceDecl) {
	d := sd.svc
	svc := &Service{Name: d.Name.Value, Scope: sd.scope.path, Pos: d.Name.Pos}
	ok := true
	if len(sd.scope.path) == 0 {
		c.errorf(d.Pos, "a service must be declared inside a module")
		ok = false
	}
	if msg := checkServiceName(svc.Name); msg != "" {
		c.errorf(d.Name.Pos, "invalid service name %s: %s", ast.Describe(lexer.Token{Value: svc.Name}), msg)
		ok = false
	}
	found := c.annotations(sd.annots, "a service", serviceAnnotations)

	// The messaging pattern.
	if len(d.Patterns) == 0 {
		c.errorf(d.Name.Pos, "service %q declares no messaging pattern: expected \"publish_subscribe Type;\", \"request_response Request -> Response;\" or \"event;\"", svc.Name)
		ok = false
	}
	for i, p := range d.Patterns {
		if i > 0 {
			c.errorf(patternPos(p), "a service declares exactly one messaging pattern; declare another service for this one")
			ok = false
			continue
		}
		switch p := p.(type) {
		case *ast.PublishSubscribe:
			svc.Pattern = PublishSubscribe
			ok = c.payload(svc, p.Payload, sd.scope) && ok
		case *ast.RequestResponse:
			svc.Pattern = RequestResponse
			ok = c.reqResPayloads(svc, p, sd.scope) && ok
		case *ast.Event:
			svc.Pattern = Event
			ok = c.eventIDType(svc, p.IDType, sd.scope) && ok
		}
	}

	// The settings, which depend on the pattern.
	if svc.Pattern != 0 {
		ok = c.patternOnly(svc.Pattern, found) && ok
	}
	switch svc.Pattern {
	case PublishSubscribe:
		ok = c.serviceQoS(svc, found, sd.scope) && ok
		ok = c.userHeader(svc, found["user_header"], sd.scope) && ok
		ok = c.portSettings(svc, found, sd.scope) && ok
	case RequestResponse:
		ok = c.reqResSettings(svc, found, sd.scope) && ok
	case Event:
		ok = c.eventSettings(svc, found, sd.scope) && ok
	}
	ok = c.attributes(svc, sd.annots) && ok

	// The Go name.
	if a := found["go_name"]; a != nil {
		e := c.annotationArg(a, "string")
		if e == nil {
			ok = false
		} else if s, isStr := stringArg(e); !isStr {
			c.errorf(e.Pos, "expected string argument of @go_name, e.g. @go_name(\"Imu\")")
			ok = false
		} else if !token.IsIdentifier(s) || !token.IsExported(s) {
			c.errorf(e.Pos, "@go_name(%q) is not an exported Go identifier", s)
			ok = false
		} else {
			svc.GoName = s
		}
	} else if len(sd.scope.path) > 0 && checkServiceName(svc.Name) == "" {
		g := ServiceGoName(svc.Name, sd.scope.path[0])
		if !token.IsIdentifier(g) || !token.IsExported(g) {
			c.errorf(d.Name.Pos, "cannot derive a Go name from service name %q (found %q): add @go_name(\"Name\")", svc.Name, g)
			ok = false
		} else {
			svc.GoName = g
		}
	}

	for _, prev := range c.file.Services {
		if prev.Name == svc.Name && prev.Pattern == svc.Pattern {
			c.errorf(d.Name.Pos, "service %q redeclared (previous declaration at %s)", svc.Name, posString(prev.Pos))
			ok = false
		}
	}
	if ok {
		c.file.Services = append(c.file.Services, svc)
	}
}

// patternOnly reports, and removes from found, the annotations of found
// that belong to other messaging patterns than p.
func (c *checker) patternOnly(p Pattern, found map[string]*ast.Annotation) bool {
	ok := true
	for name, a := range found {
		if commonAnnotations[name] || patternAnnotations[p][name] {
			continue
		}
		var owners []string
		for _, q := range []Pattern{PublishSubscribe, RequestResponse, Event} {
			if patternAnnotations[q][name] {
				owners = append(owners, q.String())
			}
		}
		c.errorf(a.Pos, "annotation @%s applies to %s services, not to %s services", name, strings.Join(owners, " and "), p)
		delete(found, name)
		ok = false
	}
	return ok
}

// payload resolves the payload of a publish_subscribe service: a struct,
// or an unbounded sequence<T> (a slice payload) of a struct or primitive.
func (c *checker) payload(svc *Service, ts ast.TypeSpec, sc *scope) bool {
	st, t, slice, ok := c.message(ts, sc, "the payload of a publish_subscribe service")
	svc.Payload, svc.PayloadType, svc.Slice = st, t, slice
	return ok
}

// message resolves what a service sends, described by what: a struct
// (typedefs resolved), or an unbounded sequence<T> (a slice) of a struct
// or primitive. st is nil for a slice of a primitive.
func (c *checker) message(ts ast.TypeSpec, sc *scope, what string) (st *Struct, t *Type, slice, ok bool) {
	if seq, isSeq := ts.(*ast.SequenceType); isSeq && seq.Bound == nil {
		t := c.typeSpec(seq.Elem, sc)
		if t == nil {
			return nil, nil, true, false
		}
		switch r := t.Resolved(); r.Kind {
		case KindStruct:
			return r.Struct, r, true, true
		case KindPrimitive:
			return nil, r, true, true
		default:
			// The runtime derives the identity of other Go types from the
			// Go type (and its package path); a struct has the IDL's.
			c.errorf(typeSpecPos(seq.Elem), "expected struct or primitive type as the element of a slice payload, found %s: wrap it in a struct, whose type identity is the same in every language", typeString(t))
			return nil, nil, true, false
		}
	}
	t = c.typeSpec(ts, sc)
	if t == nil {
		return nil, nil, false, false
	}
	if r := t.Resolved(); r.Kind == KindStruct {
		return r.Struct, r, false, true
	}
	c.errorf(typeSpecPos(ts), "expected struct or sequence<T> as %s, found %s", what, typeString(t))
	return nil, nil, false, false
}

// serviceQoS checks the service QoS annotations and their consistency.
func (c *checker) serviceQoS(svc *Service, found map[string]*ast.Annotation, sc *scope) bool {
	ok := true
	for _, name := range QoSNames {
		a := found[name]
		if a == nil {
			continue
		}
		q := QoS{Name: name, Pos: a.Pos}
		if name == "enable_safe_overflow" {
			v, good := c.boolArg(a)
			if !good {
				ok = false
				continue
			}
			q.Bool, q.IsBool = v, true
		} else {
			lo := int64(1)
			if name == "history_size" {
				lo = 0
			}
			v, good := c.countArg(a, sc, lo, MaxQoS)
			if !good {
				ok = false
				continue
			}
			q.Value = v
		}
		svc.QoS = append(svc.QoS, q)
	}
	hist, buf := qos(svc.QoS, "history_size"), qos(svc.QoS, "subscriber_max_buffer_size")
	if overflow := qos(svc.QoS, "enable_safe_overflow"); overflow != nil && !overflow.Bool && hist != nil {
		size, pos, what := defaultSubscriberMaxBufferSize, overflow.Pos, fmt.Sprintf("the default @subscriber_max_buffer_size (%d)", defaultSubscriberMaxBufferSize)
		if buf != nil {
			size, pos, what = buf.Value, buf.Pos, fmt.Sprintf("@subscriber_max_buffer_size (%d)", buf.Value)
		}
		if size < hist.Value {
			c.errorf(pos, "with @enable_safe_overflow(FALSE), %s must be at least @history_size (%d), as iceoryx2 requires", what, hist.Value)
			ok = false
		}
	}
	return ok
}

// qos returns the setting name of list, or nil.
func qos(list []QoS, name string) *QoS {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// countArg evaluates the integer argument of a count annotation and checks
// that it is in [lo, hi].
func (c *checker) countArg(a *ast.Annotation, sc *scope, lo, hi int64) (int, bool) {
	v, good := c.annotationInt(a, sc)
	if !good {
		return 0, false
	}
	if !v.IsInt64() || v.Int64() < lo || v.Int64() > hi {
		c.errorf(a.Args.Values[0].Pos, "expected @%s between %d and %d, found %s", a.Name.Name, lo, hi, v)
		return 0, false
	}
	return int(v.Int64()), true
}

// userHeader checks @user_header(Type): Type must name a struct.
func (c *checker) userHeader(svc *Service, a *ast.Annotation, sc *scope) bool {
	if a == nil {
		return true
	}
	e := c.annotationArg(a, "type")
	if e == nil {
		return false
	}
	var ref *ast.NameRef
	if len(e.Rest) == 0 && e.First.Primary != nil {
		ref, _ = e.First.Primary.(*ast.NameRef)
	}
	if ref == nil {
		c.errorf(e.Pos, "expected the name of a struct as the argument of @user_header, e.g. @user_header(Stamp)")
		return false
	}
	if n := ref.Name; !n.Absolute && len(n.Parts) == 1 && primByName[n.Parts[0]] != 0 {
		c.errorf(ref.Pos, "expected struct as the @user_header, found %s", n.Parts[0])
		return false
	}
	sym := c.use(ref.Name, sc)
	if sym == nil {
		return false
	}
	switch sym.kind {
	case symStruct, symEnum, symTypedef:
	default:
		c.errorf(ref.Pos, "expected struct as the @user_header, found %s %s", sym.kind, sym.scoped())
		return false
	}
	t := c.resolveSym(sym, ref.Pos)
	if t == nil {
		return false
	}
	if r := t.Resolved(); r.Kind == KindStruct {
		svc.UserHeader = r.Struct
		return true
	}
	c.errorf(ref.Pos, "expected struct as the @user_header, found %s", typeString(t))
	return false
}

// attributes checks the @attribute and @require_attribute annotations of
// a service, which may be repeated.
func (c *checker) attributes(svc *Service, annots []*ast.Annotation) bool {
	ok := true
	seen := map[[2]string]lexer.Position{}
	for _, a := range annots {
		name := a.Name.Name
		if name != "attribute" && name != "require_attribute" {
			continue
		}
		attr, good := c.attributeArgs(a)
		if !good {
			ok = false
			continue
		}
		key := [2]string{name, attr.Key + "\x00" + attr.Value}
		if prev, dup := seen[key]; dup {
			c.errorf(a.Pos, "duplicate %s (previous at %s)", attributeString(name, attr), posString(prev))
			ok = false
			continue
		}
		seen[key] = a.Pos
		if name == "require_attribute" {
			svc.RequiredAttributes = append(svc.RequiredAttributes, attr)
			continue
		}
		if len(svc.Attributes) == MaxAttributes {
			c.errorf(a.Pos, "too many attributes: a service has at most %d", MaxAttributes)
			ok = false
			continue
		}
		svc.Attributes = append(svc.Attributes, attr)
	}
	// What the IDL requires of a service it also defines must hold, or
	// the generated Open would not open what the generated Create made.
	if len(svc.Attributes) > 0 {
		for _, r := range svc.RequiredAttributes {
			met := false
			for _, a := range svc.Attributes {
				met = met || a.Key == r.Key && (r.Value == "" || a.Value == r.Value)
			}
			if !met {
				c.errorf(r.Pos, "%s is not met by the @attribute declarations of this service: opening would fail on the service that creating makes", attributeString("require_attribute", r))
				ok = false
			}
		}
	}
	return ok
}

// attributeArgs returns the key and value of @attribute("key", "value")
// or @require_attribute("key"[, "value"]), checked as iceoryx2 checks them.
func (c *checker) attributeArgs(a *ast.Annotation) (Attribute, bool) {
	name := a.Name.Name
	attr := Attribute{Pos: a.Pos}
	var args []*ast.Expr
	if a.Args != nil {
		args = a.Args.Values
	}
	if n := len(args); name == "attribute" && n != 2 || name == "require_attribute" && (n < 1 || n > 2) {
		pos := a.Pos
		if a.Args != nil {
			pos = a.Args.Pos
		}
		if name == "attribute" {
			c.errorf(pos, "@attribute takes two string arguments, a key and a value: @attribute(\"key\", \"value\")")
		} else {
			c.errorf(pos, "@require_attribute takes a key and an optional value: @require_attribute(\"key\"[, \"value\"])")
		}
		return attr, false
	}
	ok := true
	for i, e := range args {
		s, isStr := stringArg(e)
		what := [...]string{"key", "value"}[i]
		if !isStr {
			c.errorf(e.Pos, "expected string as the attribute %s of @%s", what, name)
			ok = false
			continue
		}
		limit := MaxAttributeKeyLength
		if i == 1 {
			limit = MaxAttributeValueLength
		}
		if msg := checkASCII(s, limit); msg != "" {
			c.errorf(e.Pos, "invalid attribute %s %s: %s", what, ast.Describe(lexer.Token{Value: s}), msg)
			ok = false
			continue
		}
		if i == 0 {
			attr.Key = s
		} else {
			attr.Value = s
		}
	}
	return attr, ok
}

func attributeString(name string, a Attribute) string {
	if a.Value == "" {
		return fmt.Sprintf("@%s(%q)", name, a.Key)
	}
	return fmt.Sprintf("@%s(%q, %q)", name, a.Key, a.Value)
}

// collectSettings reads the settings among names that the service's
// annotations (found) state, in the order of names. arg decodes one
// annotation's argument into q and reports whether it was valid (it
// reports the error); an invalid setting is left out, and ok is false.
func (c *checker) collectSettings(found map[string]*ast.Annotation, names []string, arg func(name string, a *ast.Annotation, q *QoS) bool) (out []QoS, ok bool) {
	ok = true
	for _, name := range names {
		a := found[name]
		if a == nil {
			continue
		}
		q := QoS{Name: name, Pos: a.Pos}
		if !arg(name, a, &q) {
			ok = false
			continue
		}
		out = append(out, q)
	}
	return out, ok
}

// portSettings checks the publisher and subscriber defaults of a service
// and their consistency with its QoS.
func (c *checker) portSettings(svc *Service, found map[string]*ast.Annotation, sc *scope) bool {
	ok := true
	limits := map[string][2]int64{
		"publisher_max_loaned_samples": {1, MaxQoS},
		"max_slice_len":                {1, MaxSize},
		"subscriber_buffer_size":       {1, MaxQoS},
		"subscriber_history_request":   {0, MaxQoS},
	}
	collect := func(names []string) []QoS {
		out, good := c.collectSettings(found, names, func(name string, a *ast.Annotation, q *QoS) bool {
			if name == "backpressure" {
				v, good := c.backpressureArg(a)
				q.Enum = v
				return good
			}
			v, good := c.countArg(a, sc, limits[name][0], limits[name][1])
			q.Value = v
			return good
		})
		ok = ok && good
		return out
	}
	svc.Publisher = collect(PublisherSettingNames)
	svc.Subscriber = collect(SubscriberSettingNames)

	if bp := qos(svc.Publisher, "backpressure"); bp != nil {
		if overflow := qos(svc.QoS, "enable_safe_overflow"); overflow == nil || overflow.Bool {
			what := "with safe overflow on (the default)"
			if overflow != nil {
				what = "with @enable_safe_overflow(TRUE)"
			}
			c.errorf(bp.Pos, "@backpressure has no effect %s: a publisher replaces the oldest sample of a full queue; add @enable_safe_overflow(FALSE)", what)
			ok = false
		}
	}
	if n := qos(svc.Publisher, "max_slice_len"); n != nil {
		switch {
		case !svc.Slice:
			c.errorf(n.Pos, "@max_slice_len applies only to a slice payload (publish_subscribe sequence<T>)")
			ok = false
		case svc.PayloadType != nil && uint64(n.Value) > MaxSize/svc.PayloadType.Size:
			c.errorf(found["max_slice_len"].Args.Values[0].Pos, "@max_slice_len(%d) makes slices of more than %d bytes (%s is %d bytes)", n.Value, MaxSize, typeString(svc.PayloadType), svc.PayloadType.Size)
			ok = false
		}
	}

	// The subscriber's buffer: its own setting, else the service's
	// maximum (iceoryx2's default for a subscriber), else iceoryx2's
	// default maximum.
	maxBuf, maxBufWhat := defaultSubscriberMaxBufferSize, fmt.Sprintf("the default @subscriber_max_buffer_size (%d)", defaultSubscriberMaxBufferSize)
	if q := qos(svc.QoS, "subscriber_max_buffer_size"); q != nil {
		maxBuf, maxBufWhat = q.Value, fmt.Sprintf("@subscriber_max_buffer_size (%d)", q.Value)
	}
	buf, bufWhat := maxBuf, maxBufWhat+", the default buffer size of a subscriber"
	if q := qos(svc.Subscriber, "subscriber_buffer_size"); q != nil {
		if q.Value > maxBuf {
			c.errorf(q.Pos, "@subscriber_buffer_size (%d) must be at most %s", q.Value, maxBufWhat)
			ok = false
		}
		buf, bufWhat = q.Value, fmt.Sprintf("@subscriber_buffer_size (%d)", q.Value)
	}
	if q := qos(svc.Subscriber, "subscriber_history_request"); q != nil {
		hist, histWhat := defaultHistorySize, fmt.Sprintf("the default @history_size (%d)", defaultHistorySize)
		if h := qos(svc.QoS, "history_size"); h != nil {
			hist, histWhat = h.Value, fmt.Sprintf("@history_size (%d)", h.Value)
		}
		switch {
		case q.Value > hist:
			c.errorf(q.Pos, "@subscriber_history_request (%d) must be at most %s", q.Value, histWhat)
			ok = false
		case q.Value > buf:
			c.errorf(q.Pos, "@subscriber_history_request (%d) must be at most %s", q.Value, bufWhat)
			ok = false
		}
	}
	return ok
}

// backpressureArg returns the argument of @backpressure: one of
// BackpressureValues, written as a bare name.
func (c *checker) backpressureArg(a *ast.Annotation) (string, bool) {
	e := c.annotationArg(a, "strategy")
	if e == nil {
		return "", false
	}
	if len(e.Rest) == 0 && e.First.Primary != nil {
		if r, isRef := e.First.Primary.(*ast.NameRef); isRef && !r.Name.Absolute && len(r.Name.Parts) == 1 {
			for _, v := range BackpressureValues {
				if r.Name.Parts[0] == v {
					return v, true
				}
			}
		}
	}
	c.errorf(e.Pos, "expected %s as the argument of @%s", strings.Join(BackpressureValues, " or "), a.Name.Name)
	return "", false
}

func patternPos(p ast.Pattern) lexer.Position {
	switch p := p.(type) {
	case *ast.PublishSubscribe:
		return p.Pos
	case *ast.RequestResponse:
		return p.Pos
	case *ast.Event:
		return p.Pos
	}
	return lexer.Position{}
}

// checkServiceName applies iceoryx2's rule for service names and returns
// what is wrong, or "".
func checkServiceName(s string) string {
	if msg := checkASCII(s, MaxServiceNameLength); msg != "" {
		return msg
	}
	if strings.HasPrefix(s, "iox2://") {
		return `the prefix "iox2://" is reserved`
	}
	return ""
}

// checkASCII applies iceoryx2's rule for names, attribute keys and values:
// 1 to max bytes, each ASCII 1..127. It returns what is wrong, or "".
func checkASCII(s string, max int) string {
	if s == "" {
		return "must not be empty"
	}
	if len(s) > max {
		return fmt.Sprintf("is %d bytes long, the maximum is %d", len(s), max)
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b == 0 || b > 127 {
			return fmt.Sprintf("byte %d is 0x%02x; only ASCII 1..127 is allowed", i, b)
		}
	}
	return ""
}

// boolArg returns the value of a boolean annotation: no argument means
// TRUE.
func (c *checker) boolArg(a *ast.Annotation) (bool, bool) {
	if a.Args == nil {
		return true, true
	}
	e := c.annotationArg(a, "boolean")
	if e == nil {
		return false, false
	}
	if len(e.Rest) == 0 && e.First.Primary != nil {
		if b, ok := e.First.Primary.(*ast.BoolLit); ok {
			return strings.EqualFold(b.Value, "TRUE"), true
		}
	}
	c.errorf(e.Pos, "expected TRUE or FALSE as the argument of @%s", a.Name.Name)
	return false, false
}

func stringArg(e *ast.Expr) (string, bool) {
	if len(e.Rest) == 0 && e.First.Primary != nil {
		if s, ok := e.First.Primary.(*ast.StringLit); ok {
			return s.Value, true
		}
	}
	return "", false
}

// GoDecl is a package-level Go identifier that the generated Go code
// declares, with what declares it.
type GoDecl struct {
	Name string         // the Go identifier
	What string         // what declares it, e.g. "struct robot::Imu"
	Pos  lexer.Position // where
}

// GoDecls lists the package-level Go identifiers that the generated Go
// code for f declares, in the order of their positions in the file.
func (f *File) GoDecls() []GoDecl {
	var ids []GoDecl
	add := func(name, what string, pos lexer.Position) {
		ids = append(ids, GoDecl{name, what, pos})
	}
	for _, k := range f.Consts {
		add(k.GoName, "constant "+k.ScopedName(), k.Pos)
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *Struct:
			add(d.GoName, "struct "+d.ScopedName(), d.Pos)
			add(d.GoName+"TypeInfo", "the type info of struct "+d.ScopedName(), d.Pos)
		case *Enum:
			add(d.GoName, "enum "+d.ScopedName(), d.Pos)
			for _, e := range d.Enumerators {
				add(e.GoName, "enumerator "+e.Name+" of "+d.ScopedName(), e.Pos)
			}
		case *Typedef:
			add(d.GoName, "typedef "+d.ScopedName(), d.Pos)
		case *StringType:
			add(d.GoName, "the Go type of string<"+strconv.FormatUint(d.Cap, 10)+">", d.Pos)
		case *SequenceType:
			add(d.GoName, "the Go type of "+(&Type{Kind: KindSequence, Seq: d}).String(), d.Pos)
		}
	}
	for _, s := range f.Services {
		what := fmt.Sprintf("service %q", s.Name)
		for _, n := range s.GoDecls() {
			add(n, what, s.Pos)
		}
	}
	sort.SliceStable(ids, func(i, j int) bool { return posLess(ids[i].Pos, ids[j].Pos) })
	return ids
}

// GoDecls returns the package-level Go identifiers that the generated Go
// code declares for s.
func (s *Service) GoDecls() []string {
	names := []string{s.GoName + "ServiceName", s.GoName + "Service", "Create" + s.GoName, "Open" + s.GoName, "OpenOrCreate" + s.GoName}
	switch s.Pattern {
	case PublishSubscribe:
		names = append(names, s.GoName+"Publisher", s.GoName+"Subscriber")
	case RequestResponse:
		names = append(names, s.GoName+"Client", s.GoName+"Server")
	case Event:
		names = append(names, s.GoName+"Notifier", s.GoName+"Listener")
	}
	return names
}

// GoNameClashes returns an error for each identifier of ids declared more
// than once, at the later declaration (one per pair of declarations).
func GoNameClashes(ids []GoDecl) ErrorList {
	var errs ErrorList
	first := map[string]GoDecl{}
	reported := map[string]bool{}
	for _, id := range ids {
		prev, dup := first[id.Name]
		if !dup {
			first[id.Name] = id
			continue
		}
		key := posString(id.Pos) + " " + posString(prev.Pos)
		if reported[key] {
			continue
		}
		reported[key] = true
		errs.Add(id.Pos, fmt.Sprintf("Go name %s of %s clashes with %s at %s", id.Name, id.What, prev.What, posString(prev.Pos)))
	}
	return errs
}

// checkGoNames reports Go identifiers that the generated code would
// declare twice, at the declaration that comes later in the file.
func (c *checker) checkGoNames() {
	for _, s := range c.file.Structs() {
		c.checkFieldNames(s)
	}
	c.errs = append(c.errs, GoNameClashes(c.file.GoDecls())...)
}

func (c *checker) checkFieldNames(s *Struct) {
	seen := map[string]*Field{"IOX2TypeInfo": {Name: "the method IOX2TypeInfo"}}
	for _, f := range s.Fields {
		if f.Pad {
			continue
		}
		if prev := seen[f.GoName]; prev != nil {
			at := ""
			if prev.Pos.Line > 0 {
				at = " at " + posString(prev.Pos)
			}
			c.errorf(f.Pos, "Go name %s of member %s clashes with %s%s", f.GoName, f.Name, prev.Name, at)
			continue
		}
		seen[f.GoName] = f
	}
}

func posLess(a, b lexer.Position) bool {
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Column < b.Column
}
