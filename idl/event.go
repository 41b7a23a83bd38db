package idl

import (
	"fmt"
	"strings"
	"time"

	"github.com/iox2go/iox2go/idl/internal/ast"
)

// eventSettings checks the QoS and notifier defaults of an event service:
// each in its range, and every event id the IDL names at most the
// service's event id max value (stated, else iceoryx2's default), as the
// runtime requires.
func (c *checker) eventSettings(svc *Service, found map[string]*ast.Annotation, sc *scope) bool {
	ok := true
	limits := map[string][2]int64{
		"max_notifiers":      {1, MaxQoS},
		"max_listeners":      {1, MaxQoS},
		"max_nodes":          {1, MaxQoS},
		"event_id_max_value": {0, MaxEventIDValue},
	}
	collect := func(names []string) []QoS {
		out, good := c.collectSettings(found, names, func(name string, a *ast.Annotation, q *QoS) bool {
			switch {
			case name == "deadline":
				d, good := c.durationArg(a)
				q.Duration, q.IsDuration = d, true
				return good
			case isEventID(name):
				v, good := c.eventIDArg(svc, a, sc)
				q.Value = v
				return good
			}
			v, good := c.countArg(a, sc, limits[name][0], limits[name][1])
			q.Value = v
			return good
		})
		ok = ok && good
		return out
	}
	svc.QoS = collect(EventQoSNames)
	svc.Notifier = collect(NotifierSettingNames)

	maxID, maxWhat := DefaultEventIDMaxValue, fmt.Sprintf("the default @event_id_max_value (%d)", DefaultEventIDMaxValue)
	if q := qos(svc.QoS, "event_id_max_value"); q != nil {
		maxID, maxWhat = q.Value, fmt.Sprintf("@event_id_max_value (%d)", q.Value)
	}
	for _, q := range append(append([]QoS(nil), svc.QoS...), svc.Notifier...) {
		if isEventID(q.Name) && q.Value > maxID {
			c.errorf(found[q.Name].Args.Values[0].Pos, "@%s (%d) must be at most %s: event ids are 0 to the service's event id max value", q.Name, q.Value, maxWhat)
			ok = false
		}
	}
	if e := svc.EventIDType; e != nil {
		for _, x := range e.Enumerators {
			if x.Value > uint64(maxID) {
				c.errorf(svc.eventIDTypePos, "enumerator %s of %s is %d, more than %s: every value of the event id type must be an event id of the service", x.Name, e.ScopedName(), x.Value, maxWhat)
				ok = false
				break
			}
		}
	}
	return ok
}

// isEventID reports whether the event service setting name is an event id.
func isEventID(name string) bool {
	switch name {
	case "notifier_created_event", "notifier_dropped_event", "notifier_dead_event", "default_event_id":
		return true
	}
	return false
}

// eventIDType resolves the type of `event Type;`, which must be an enum
// (or a typedef of one).
func (c *checker) eventIDType(svc *Service, ts ast.TypeSpec, sc *scope) bool {
	if ts == nil {
		return true
	}
	t := c.typeSpec(ts, sc)
	if t == nil {
		return false
	}
	if r := t.Resolved(); r.Kind == KindEnum {
		svc.EventIDType, svc.eventIDTypePos = r.Enum, typeSpecPos(ts)
		return true
	}
	c.errorf(typeSpecPos(ts), "expected enum as the event id type of an event service, found %s", typeString(t))
	return false
}

// eventIDArg evaluates the argument of an event id annotation: an
// enumerator of the service's event id type, or an integer constant
// expression.
func (c *checker) eventIDArg(svc *Service, a *ast.Annotation, sc *scope) (int, bool) {
	if e := svc.EventIDType; e != nil && a.Args != nil && len(a.Args.Values) == 1 {
		arg := a.Args.Values[0]
		if ref, isRef := arg.First.Primary.(*ast.NameRef); isRef && len(arg.Rest) == 0 {
			last := strings.TrimPrefix(ref.Name.Parts[len(ref.Name.Parts)-1], "_")
			if sym := c.lookup(ref.Name, sc); sym != nil && sym.name == last && sym.kind == symEnumerator &&
				sym.owner != nil && sym.owner.typ != nil && sym.owner.typ.Enum == e {
				for _, x := range e.Enumerators {
					if x.Name == sym.name {
						if x.Value > MaxEventIDValue {
							c.errorf(arg.Pos, "expected @%s between 0 and %d, found %s (%d)", a.Name.Name, MaxEventIDValue, x.Name, x.Value)
							return 0, false
						}
						return int(x.Value), true
					}
				}
			}
		}
	}
	return c.countArg(a, sc, 0, MaxEventIDValue)
}

// durationArg returns the argument of @deadline: a string in the syntax
// of Go's time.ParseDuration ("250ms", "1.5s", "1m30s"), positive.
func (c *checker) durationArg(a *ast.Annotation) (time.Duration, bool) {
	e := c.annotationArg(a, "duration")
	if e == nil {
		return 0, false
	}
	s, isStr := stringArg(e)
	if !isStr {
		c.errorf(e.Pos, "expected a duration string as the argument of @%s, e.g. @%s(\"250ms\")", a.Name.Name, a.Name.Name)
		return 0, false
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		c.errorf(e.Pos, "invalid duration %q in @%s: expected a decimal number and a unit (ns, us, ms, s, m, h), e.g. \"250ms\" or \"1m30s\"", s, a.Name.Name)
		return 0, false
	case d <= 0:
		c.errorf(e.Pos, "expected a positive @%s, found %q", a.Name.Name, s)
		return 0, false
	}
	return d, true
}
