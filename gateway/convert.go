package gateway

import (
	"fmt"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/typecodec"
)

// foreign reports whether a record with header flags was written in the
// other byte order than this host's.
func (g *Gateway) foreign(flags byte) bool {
	return flags&flagBigEndian != g.orderFlag
}

// converter converts the payloads (and user headers) of one service's
// records between byte orders. A nil *converter converts nothing: the
// service's types have no layout that says how (see convertible).
type converter struct {
	elem   *typecodec.Type // the payload, or one element of a dynamic payload
	header *typecodec.Type // nil: no user header
}

// newConverter returns the converter of payload type ti and user header
// uh (nil if none), or nil and the reason why their values cannot be
// converted.
func newConverter(ti iox2.TypeInfo, uh *iox2.TypeInfo) (*converter, string) {
	c := &converter{}
	for _, p := range []struct {
		ti  *iox2.TypeInfo
		dst **typecodec.Type
		of  string
	}{{&ti, &c.elem, "payload"}, {uh, &c.header, "user header"}} {
		if p.ti == nil {
			continue
		}
		t, err := typecodec.Parse(*p.ti)
		if err != nil {
			return nil, fmt.Sprintf("the %s type %q has a layout that does not parse: %v", p.of, p.ti.Name, err)
		}
		if !t.Swappable() {
			return nil, fmt.Sprintf("the %s type %q has no layout that tells its fields (%s)", p.of, p.ti.Name, t)
		}
		*p.dst = t
	}
	return c, ""
}

// convert converts n elements of the payload in place, and the user
// header.
func (c *converter) convert(payload []byte, n int, header []byte) {
	if size := c.elem.Size(); size > 0 {
		for i := range n {
			c.elem.SwapBytes(payload[i*size : (i+1)*size])
		}
	}
	if c.header != nil {
		c.header.SwapBytes(header)
	}
}

// convertible returns "" if the payloads of service sc can be converted
// between byte orders, else why not. Events carry no payload.
func convertible(sc iox2.StaticConfig) string {
	var why string
	switch {
	case sc.PublishSubscribe != nil:
		_, why = newConverter(sc.PublishSubscribe.Payload, sc.PublishSubscribe.UserHeader)
	case sc.RequestResponse != nil:
		if _, why = newConverter(sc.RequestResponse.Request, nil); why == "" {
			_, why = newConverter(sc.RequestResponse.Response, nil)
		}
	}
	return why
}
