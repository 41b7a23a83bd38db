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
const defaultSubscriberMaxBufferSize = 2

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
		c.errorf(d.Name.Pos, "service %q declares no messaging pattern: expected publish_subscribe <Type>;", svc.Name)
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
			t := c.typeSpec(p.Payload, sd.scope)
			if t == nil {
				ok = false
				break
			}
			if r := t.Resolved(); r.Kind == KindStruct {
				svc.Payload = r.Struct
			} else {
				c.errorf(typeSpecPos(p.Payload), "expected struct as the payload of a publish_subscribe service, found %s", typeString(t))
				ok = false
			}
		case *ast.RequestResponse:
			c.errorf(p.Pos, "request_response services are not supported yet")
			ok = false
		case *ast.Event:
			c.errorf(p.Pos, "event services are not supported yet")
			ok = false
		}
	}

	// QoS.
	var hist, buf *QoS
	var overflow *QoS
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
			v, good := c.annotationInt(a, sd.scope)
			if !good {
				ok = false
				continue
			}
			lo := int64(1)
			if name == "history_size" {
				lo = 0
			}
			if !v.IsInt64() || v.Int64() < lo || v.Int64() > MaxQoS {
				c.errorf(a.Args.Values[0].Pos, "expected @%s between %d and %d, found %s", name, lo, MaxQoS, v)
				ok = false
				continue
			}
			q.Value = int(v.Int64())
		}
		svc.QoS = append(svc.QoS, q)
	}
	for i := range svc.QoS {
		switch q := &svc.QoS[i]; q.Name {
		case "history_size":
			hist = q
		case "subscriber_max_buffer_size":
			buf = q
		case "enable_safe_overflow":
			overflow = q
		}
	}
	if overflow != nil && !overflow.Bool && hist != nil {
		size, pos, what := defaultSubscriberMaxBufferSize, overflow.Pos, fmt.Sprintf("the default @subscriber_max_buffer_size (%d)", defaultSubscriberMaxBufferSize)
		if buf != nil {
			size, pos, what = buf.Value, buf.Pos, fmt.Sprintf("@subscriber_max_buffer_size (%d)", buf.Value)
		}
		if size < hist.Value {
			c.errorf(pos, "with @enable_safe_overflow(FALSE), %s must be at least @history_size (%d), as iceoryx2 requires", what, hist.Value)
			ok = false
		}
	}

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
	if s == "" {
		return "must not be empty"
	}
	if len(s) > MaxServiceNameLength {
		return fmt.Sprintf("is %d bytes long, the maximum is %d", len(s), MaxServiceNameLength)
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b == 0 || b > 127 {
			return fmt.Sprintf("byte %d is 0x%02x; only ASCII 1..127 is allowed", i, b)
		}
	}
	if strings.HasPrefix(s, "iox2://") {
		return `the prefix "iox2://" is reserved`
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
		for _, n := range []string{s.GoName + "ServiceName", s.GoName + "Service", "Create" + s.GoName, "Open" + s.GoName, "OpenOrCreate" + s.GoName} {
			add(n, what, s.Pos)
		}
	}
	sort.SliceStable(ids, func(i, j int) bool { return posLess(ids[i].Pos, ids[j].Pos) })
	return ids
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
