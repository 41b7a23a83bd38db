package idl

import (
	"fmt"
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
		"default_event_id":   {0, MaxEventIDValue},
	}
	collect := func(names []string) []QoS {
		var out []QoS
		for _, name := range names {
			a := found[name]
			if a == nil {
				continue
			}
			q := QoS{Name: name, Pos: a.Pos}
			if name == "deadline" {
				d, good := c.durationArg(a)
				if !good {
					ok = false
					continue
				}
				q.Duration, q.IsDuration = d, true
			} else {
				lim, isCount := limits[name]
				if !isCount {
					lim = [2]int64{0, MaxEventIDValue} // an event id
				}
				v, good := c.countArg(a, sc, lim[0], lim[1])
				if !good {
					ok = false
					continue
				}
				q.Value = v
			}
			out = append(out, q)
		}
		return out
	}
	svc.QoS = collect(EventQoSNames)
	svc.Notifier = collect(NotifierSettingNames)

	maxID, maxWhat := DefaultEventIDMaxValue, fmt.Sprintf("the default @event_id_max_value (%d)", DefaultEventIDMaxValue)
	if q := qos(svc.QoS, "event_id_max_value"); q != nil {
		maxID, maxWhat = q.Value, fmt.Sprintf("@event_id_max_value (%d)", q.Value)
	}
	for _, q := range append(append([]QoS(nil), svc.QoS...), svc.Notifier...) {
		switch q.Name {
		case "notifier_created_event", "notifier_dropped_event", "notifier_dead_event", "default_event_id":
			if q.Value > maxID {
				c.errorf(found[q.Name].Args.Values[0].Pos, "@%s (%d) must be at most %s: event ids are 0 to the service's event id max value", q.Name, q.Value, maxWhat)
				ok = false
			}
		}
	}
	return ok
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
