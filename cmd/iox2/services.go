package main

// iox2 service list and iox2 service details: the services of a domain,
// their static configuration (QoS, payload type and its field layout) and
// the ports connected to them.

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/typecodec"
)

func init() {
	var listPattern, detailsPattern string
	register(&command{
		path:    "service list",
		summary: "list the services of the domain",
		help: `Lists every service of the domain, by name and pattern: its payload type
(request -> response for request-response, "-" for events; a slice payload
is written []T), how many nodes are attached and its ports.

With --json: {"num": N, "services": [{"name", "pattern", "hash", "uid",
"payload", "nodes", "ports"}]} where "nodes" is the number of attached
nodes and "ports" counts the ports by kind ("publishers"/"subscribers",
"notifiers"/"listeners" or "clients"/"servers").`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&listPattern, "pattern", "all", "show only services of `PATTERN`: publish-subscribe, event, request-response or all")
		},
		maxArgs: 0,
		run: func(e *env, args []string) error {
			return serviceList(e, listPattern)
		},
	})
	register(&command{
		path:    "service details",
		args:    "<name>",
		summary: "show a service: QoS, payload type and layout, ports",
		help: `Shows everything the domain knows about a service: its pattern, hash,
incarnation (uid), attributes, every QoS value of its static configuration,
the identity of its payload types (name, size, alignment, layout hash) with
their field layout (offset, size and type of every field, padding
included; nested structs and enums follow), and its ports grouped by kind
with the node (ID, name, PID, state) that owns each.

A service name exists once per messaging pattern: all of them are shown
unless --pattern selects one. A name that matches no service exits with
code 3.

With --json: {"num": N, "services": [{"name", "pattern", "hash", "uid",
"version", "attributes": [{"key", "value"}], "qos": {...}, "payload",
"user_header", "request", "response" (types, where the pattern has them),
"nodes": [node], "ports": {"<kind>s": [{"id", "node": node, ...}]}}]},
where a node is {"id", "name", "pid", "state"} and a type is {"name",
"size", "align", "layout_hash", "variant", "layout_format", "fields",
"structs", "enums", "layout"}.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&detailsPattern, "pattern", "all", "show only the service of `PATTERN`: publish-subscribe, event, request-response or all")
		},
		minArgs: 1,
		maxArgs: 1,
		run: func(e *env, args []string) error {
			return serviceDetails(e, args[0], detailsPattern)
		},
	})
}

// patternName spells a pattern of a static config ("publish_subscribe")
// as the CLI does ("publish-subscribe").
func patternName(p string) string { return strings.ReplaceAll(p, "_", "-") }

// parsePatternFlag checks a --pattern flag and returns a filter on the
// pattern of static configs.
func parsePatternFlag(s string) (func(string) bool, error) {
	switch strings.ReplaceAll(strings.ToLower(s), "_", "-") {
	case "all", "":
		return func(string) bool { return true }, nil
	case "publish-subscribe", "pubsub":
		return func(p string) bool { return p == iox2.PatternPublishSubscribe.String() }, nil
	case "event":
		return func(p string) bool { return p == iox2.PatternEvent.String() }, nil
	case "request-response", "reqres":
		return func(p string) bool { return p == iox2.PatternRequestResponse.String() }, nil
	}
	return nil, usagef("--pattern %q: want publish-subscribe, event, request-response or all", s)
}

// portGroup is the ports of one kind in a service.
type portGroup struct {
	kind  string // singular: "publisher"
	ports []iox2.PortInfo
}

// servicePortGroups returns the ports of s by kind, in the order the pattern
// names them.
func servicePortGroups(s iox2.ServiceInfo) []portGroup {
	switch s.Static.Pattern {
	case iox2.PatternEvent.String():
		return []portGroup{{"notifier", s.Publishers}, {"listener", s.Subscribers}}
	case iox2.PatternRequestResponse.String():
		return []portGroup{{"client", s.Clients}, {"server", s.Servers}}
	}
	return []portGroup{{"publisher", s.Publishers}, {"subscriber", s.Subscribers}}
}

func countWord(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// servicePortsText summarizes the ports of s: "1 publisher, 2 subscribers".
func servicePortsText(s iox2.ServiceInfo) string {
	var parts []string
	for _, g := range servicePortGroups(s) {
		parts = append(parts, countWord(len(g.ports), g.kind))
	}
	return strings.Join(parts, ", ")
}

func variantTypeName(name, variant string) string {
	if variant == "dynamic" {
		return "[]" + name
	}
	return name
}

// servicePayloadText names the payload of s: its type, "request -> response", or
// "-" for an event service.
func servicePayloadText(sc *iox2.StaticConfig) string {
	switch {
	case sc.PublishSubscribe != nil:
		return variantTypeName(sc.PublishSubscribe.Payload.Name, sc.PublishSubscribe.PayloadVariant)
	case sc.RequestResponse != nil:
		rr := sc.RequestResponse
		return variantTypeName(rr.Request.Name, rr.RequestVariant) + " -> " + variantTypeName(rr.Response.Name, rr.ResponseVariant)
	}
	return "-"
}

type serviceListJSON struct {
	Name    string         `json:"name"`
	Pattern string         `json:"pattern"`
	Hash    string         `json:"hash"`
	UID     string         `json:"uid"`
	Payload string         `json:"payload"`
	Nodes   int            `json:"nodes"`
	Ports   map[string]int `json:"ports"`
}

func serviceList(e *env, pattern string) error {
	keep, err := parsePatternFlag(pattern)
	if err != nil {
		return err
	}
	svcs, err := iox2.ListServices(e.cfg)
	if err != nil {
		return fmt.Errorf("list services in %s: %w", e.cfg.Root, err)
	}
	out := []serviceListJSON{}
	var shown []iox2.ServiceInfo
	for _, s := range svcs {
		if !keep(s.Static.Pattern) {
			continue
		}
		shown = append(shown, s)
		j := serviceListJSON{Name: s.Static.Name, Pattern: patternName(s.Static.Pattern), Hash: s.Static.Hash,
			UID: s.Static.UID, Payload: servicePayloadText(&s.Static), Nodes: len(s.Nodes), Ports: map[string]int{}}
		for _, g := range servicePortGroups(s) {
			j.Ports[g.kind+"s"] = len(g.ports)
		}
		out = append(out, j)
	}
	if e.json {
		return printJSON(e.stdout, struct {
			Num      int               `json:"num"`
			Services []serviceListJSON `json:"services"`
		}{len(out), out})
	}
	if len(out) == 0 {
		fmt.Fprintf(e.stdout, "no services (%s)\n", domainDesc(e.cfg))
		return nil
	}
	t := newTable(e.stdout, "NAME", "PATTERN", "PAYLOAD", "NODES", "PORTS")
	for i, j := range out {
		t.row(j.Name, j.Pattern, j.Payload, strconv.Itoa(j.Nodes), servicePortsText(shown[i]))
	}
	return t.flush()
}

// --- service details ---

// svcPortNodeJSON is the node that owns a port, as node list sees it.
type svcPortNodeJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	State string `json:"state"`
}

type svcPortJSON struct {
	ID                string
	Node              svcPortNodeJSON
	BufferSize        int // subscribers
	HistoryRequest    int // subscribers
	MaxActiveRequests int // clients

	kind string // "subscriber", "client", ...: which of the above it has
}

// MarshalJSON writes the keys of p's kind, every one of them even when it
// is 0: buffer_size and history_request for a subscriber,
// max_active_requests for a client.
func (p svcPortJSON) MarshalJSON() ([]byte, error) {
	type port struct {
		ID   string          `json:"id"`
		Node svcPortNodeJSON `json:"node"`
	}
	var v any = port{p.ID, p.Node}
	switch p.kind {
	case "subscriber":
		v = struct {
			port
			BufferSize     int `json:"buffer_size"`
			HistoryRequest int `json:"history_request"`
		}{port{p.ID, p.Node}, p.BufferSize, p.HistoryRequest}
	case "client":
		v = struct {
			port
			MaxActiveRequests int `json:"max_active_requests"`
		}{port{p.ID, p.Node}, p.MaxActiveRequests}
	}
	return marshalJSON(v, "")
}

// svcQoSItem is one QoS value of a static config, in the order shown.
type svcQoSItem struct {
	key   string
	value any
}

type serviceDetailsJSON struct {
	Name       string                   `json:"name"`
	Pattern    string                   `json:"pattern"`
	Hash       string                   `json:"hash"`
	UID        string                   `json:"uid"`
	Version    string                   `json:"version"`
	Attributes []svcAttrJSON            `json:"attributes"`
	QoS        map[string]any           `json:"qos"`
	Payload    *typeLayoutJSON          `json:"payload,omitempty"`
	UserHeader *typeLayoutJSON          `json:"user_header,omitempty"`
	Request    *typeLayoutJSON          `json:"request,omitempty"`
	Response   *typeLayoutJSON          `json:"response,omitempty"`
	Nodes      []svcPortNodeJSON        `json:"nodes"`
	Ports      map[string][]svcPortJSON `json:"ports"`

	qos    []svcQoSItem
	groups []string // port kinds in order
}

type svcAttrJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// svcQoSOf lists every QoS value of sc's static config.
func svcQoSOf(sc *iox2.StaticConfig) []svcQoSItem {
	optEvent := func(p *iox2.EventID) any {
		if p == nil {
			return nil
		}
		return uint64(*p)
	}
	switch {
	case sc.PublishSubscribe != nil:
		p := sc.PublishSubscribe
		return []svcQoSItem{
			{"max_publishers", p.MaxPublishers},
			{"max_subscribers", p.MaxSubscribers},
			{"max_nodes", p.MaxNodes},
			{"history_size", p.HistorySize},
			{"subscriber_max_buffer_size", p.SubscriberMaxBufferSize},
			{"subscriber_max_borrowed_samples", p.SubscriberMaxBorrowedSamples},
			{"enable_safe_overflow", p.EnableSafeOverflow},
			{"payload_variant", p.PayloadVariant},
		}
	case sc.Event != nil:
		ev := sc.Event
		return []svcQoSItem{
			{"max_notifiers", ev.MaxNotifiers},
			{"max_listeners", ev.MaxListeners},
			{"max_nodes", ev.MaxNodes},
			{"event_id_max_value", ev.EventIDMaxValue},
			{"deadline_ns", int64(ev.Deadline)},
			{"notifier_created_event", optEvent(ev.NotifierCreatedEvent)},
			{"notifier_dropped_event", optEvent(ev.NotifierDroppedEvent)},
			{"notifier_dead_event", optEvent(ev.NotifierDeadEvent)},
		}
	case sc.RequestResponse != nil:
		r := sc.RequestResponse
		return []svcQoSItem{
			{"max_clients", r.MaxClients},
			{"max_servers", r.MaxServers},
			{"max_nodes", r.MaxNodes},
			{"max_active_requests_per_client", r.MaxActiveRequestsPerClient},
			{"max_loaned_requests", r.MaxLoanedRequests},
			{"max_response_buffer_size", r.MaxResponseBufferSize},
			{"max_borrowed_responses_per_pending_response", r.MaxBorrowedResponsesPerPendingResponse},
			{"enable_safe_overflow_for_requests", r.EnableSafeOverflowForRequests},
			{"enable_safe_overflow_for_responses", r.EnableSafeOverflowForResponses},
			{"enable_fire_and_forget_requests", r.EnableFireAndForgetRequests},
			{"request_variant", r.RequestVariant},
			{"response_variant", r.ResponseVariant},
		}
	}
	return nil
}

func svcQoSValueText(key string, v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case int64:
		if key == "deadline_ns" && v == 0 {
			return "0 (none)"
		}
	}
	return fmt.Sprint(v)
}

func serviceDetails(e *env, name, pattern string) error {
	keep, err := parsePatternFlag(pattern)
	if err != nil {
		return err
	}
	svcs, err := iox2.ListServices(e.cfg)
	if err != nil {
		return fmt.Errorf("list services in %s: %w", e.cfg.Root, err)
	}
	var found []iox2.ServiceInfo
	for _, s := range svcs {
		if s.Static.Name == name && keep(s.Static.Pattern) {
			found = append(found, s)
		}
	}
	if len(found) == 0 {
		what := "service"
		if pattern != "all" && pattern != "" {
			what = pattern + " service"
		}
		return notFoundf("no %s named %q (%s; see iox2 service list)", what, name, domainDesc(e.cfg))
	}
	nodes, err := iox2.ListNodes(e.cfg)
	if err != nil {
		return fmt.Errorf("list nodes in %s: %w", e.cfg.Root, err)
	}
	byID := map[iox2.ID]svcPortNodeJSON{}
	for _, n := range nodes {
		j := toNodeJSON(n)
		byID[n.ID] = svcPortNodeJSON{ID: j.ID, Name: j.Name, PID: j.PID, State: j.State}
	}
	nodeOf := func(id iox2.ID) svcPortNodeJSON {
		if n, ok := byID[id]; ok {
			return n
		}
		return svcPortNodeJSON{ID: id.String(), State: iox2.NodeMissing.String()}
	}
	out := make([]serviceDetailsJSON, 0, len(found))
	for _, s := range found {
		sc := &s.Static
		d := serviceDetailsJSON{Name: sc.Name, Pattern: patternName(sc.Pattern), Hash: sc.Hash, UID: sc.UID,
			Version: sc.Version, Attributes: []svcAttrJSON{}, QoS: map[string]any{}, Nodes: []svcPortNodeJSON{},
			Ports: map[string][]svcPortJSON{}, qos: svcQoSOf(sc)}
		for _, a := range sc.Attributes {
			d.Attributes = append(d.Attributes, svcAttrJSON{a.Key, a.Value})
		}
		for _, q := range d.qos {
			d.QoS[q.key] = q.value
		}
		switch {
		case sc.PublishSubscribe != nil:
			d.Payload = newTypeLayoutJSON(sc.PublishSubscribe.Payload, sc.PublishSubscribe.PayloadVariant)
			if h := sc.PublishSubscribe.UserHeader; h != nil {
				d.UserHeader = newTypeLayoutJSON(*h, "")
			}
		case sc.RequestResponse != nil:
			d.Request = newTypeLayoutJSON(sc.RequestResponse.Request, sc.RequestResponse.RequestVariant)
			d.Response = newTypeLayoutJSON(sc.RequestResponse.Response, sc.RequestResponse.ResponseVariant)
		}
		for _, id := range s.Nodes {
			d.Nodes = append(d.Nodes, nodeOf(id))
		}
		for _, g := range servicePortGroups(s) {
			kind := g.kind + "s"
			d.groups = append(d.groups, kind)
			ps := []svcPortJSON{}
			for _, p := range g.ports {
				ps = append(ps, svcPortJSON{ID: p.ID.String(), Node: nodeOf(p.Node), BufferSize: p.BufferSize,
					HistoryRequest: p.HistoryRequest, MaxActiveRequests: p.MaxActiveRequests, kind: g.kind})
			}
			d.Ports[kind] = ps
		}
		out = append(out, d)
	}
	if e.json {
		return printJSON(e.stdout, struct {
			Num      int                  `json:"num"`
			Services []serviceDetailsJSON `json:"services"`
		}{len(out), out})
	}
	for i := range out {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		if err := printServiceDetails(e.stdout, &out[i]); err != nil {
			return err
		}
	}
	return nil
}

func printServiceDetails(w io.Writer, d *serviceDetailsJSON) error {
	fmt.Fprintf(w, "Service %s\n", d.Name)
	t := newTable(w, "  pattern:", d.Pattern)
	t.row("  hash:", d.Hash)
	t.row("  uid:", d.UID)
	t.row("  version:", d.Version)
	attrs := "none"
	if len(d.Attributes) > 0 {
		var parts []string
		for _, a := range d.Attributes {
			parts = append(parts, a.Key+"="+a.Value)
		}
		attrs = strings.Join(parts, ", ")
	}
	t.row("  attributes:", attrs)
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nQoS:\n")
	t = newTable(w, "  KEY", "VALUE")
	for _, q := range d.qos {
		t.row("  "+q.key, svcQoSValueText(q.key, q.value))
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, x := range []struct {
		title string
		t     *typeLayoutJSON
	}{{"Payload", d.Payload}, {"User header", d.UserHeader}, {"Request", d.Request}, {"Response", d.Response}} {
		if x.t != nil {
			fmt.Fprintln(w)
			if err := printTypeLayout(w, x.title, x.t); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(w, "\nNodes (%d):\n", len(d.Nodes))
	if len(d.Nodes) > 0 {
		t = newTable(w, "  NODE", "NAME", "PID", "STATE")
		for _, n := range d.Nodes {
			t.row("  "+n.ID, dashIfEmpty(n.Name), pidCell(n.PID), n.State)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	for _, kind := range d.groups {
		ps := d.Ports[kind]
		fmt.Fprintf(w, "\n%s%s (%d):\n", strings.ToUpper(kind[:1]), kind[1:], len(ps))
		if len(ps) == 0 {
			continue
		}
		hdr := []string{"  PORT", "NODE", "NAME", "PID", "STATE"}
		extra := func(p svcPortJSON) []string { return nil }
		switch kind {
		case "subscribers":
			hdr = append(hdr, "BUFFER", "HISTORY")
			extra = func(p svcPortJSON) []string {
				return []string{strconv.Itoa(p.BufferSize), strconv.Itoa(p.HistoryRequest)}
			}
		case "clients":
			hdr = append(hdr, "MAX ACTIVE REQUESTS")
			extra = func(p svcPortJSON) []string { return []string{strconv.Itoa(p.MaxActiveRequests)} }
		}
		t = newTable(w, hdr...)
		for _, p := range ps {
			t.row(append([]string{"  " + p.ID, p.Node.ID, dashIfEmpty(p.Node.Name), pidCell(p.Node.PID), p.Node.State}, extra(p)...)...)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}

// printTypeLayout writes a payload type's identity and field layout.
func printTypeLayout(w io.Writer, title string, t *typeLayoutJSON) error {
	variant := ""
	if t.Variant != "" {
		variant = ", " + t.Variant
	}
	fmt.Fprintf(w, "%s: %s (size %d, align %d%s)\n", title, t.Name, t.Size, t.Align, variant)
	fmt.Fprintf(w, "  layout hash: %s\n", t.LayoutHash)
	if t.Fields == nil {
		if t.Layout == "" {
			fmt.Fprintf(w, "  layout: not recorded\n")
			return nil
		}
		fmt.Fprintf(w, "  layout (%s):\n", dashIfEmpty(t.LayoutFormat))
		for _, l := range strings.Split(strings.TrimRight(t.Layout, "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
		return nil
	}
	if err := printFieldTable(w, "  ", t.Fields); err != nil {
		return err
	}
	for _, s := range t.Structs {
		fmt.Fprintf(w, "  struct %s (size %d, align %d):\n", s.Name, s.Size, s.Align)
		if err := printFieldTable(w, "    ", s.Fields); err != nil {
			return err
		}
	}
	for _, en := range t.Enums {
		var vals []string
		for _, v := range en.Values {
			vals = append(vals, v.Name+"="+strconv.FormatInt(v.Value, 10))
		}
		fmt.Fprintf(w, "  enum %s (%s): %s\n", en.Name, en.Type, strings.Join(vals, " "))
	}
	return nil
}

func printFieldTable(w io.Writer, indent string, fs []layoutFieldJSON) error {
	t := newTable(w, indent+"FIELD", "OFFSET", "SIZE", "TYPE")
	for _, f := range fs {
		name, typ := f.Name, f.Type
		if f.Padding {
			name, typ = "(padding)", "-"
		}
		t.row(indent+name, strconv.FormatUint(f.Offset, 10), strconv.FormatUint(f.Size, 10), typ)
	}
	return t.flush()
}

// --- payload layouts ---

// typeLayoutJSON is a payload type's identity and, when its layout description
// is in a format the CLI reads, its fields.
type typeLayoutJSON struct {
	Name       string `json:"name"`
	Size       uint64 `json:"size"`
	Align      uint64 `json:"align"`
	LayoutHash string `json:"layout_hash"`
	// Variant is "fixed" or "dynamic" (a slice) for payloads, requests and
	// responses; empty for a user header.
	Variant string `json:"variant,omitempty"`
	// LayoutFormat is the first line of the layout ("iox2-layout/1").
	LayoutFormat string `json:"layout_format"`
	// Fields are the top-level struct's fields, padding included; nil when
	// the layout is not in a format the CLI reads. A layout derived from a
	// Go type is read with runtime/typecodec; its nested structs are named
	// by their field path.
	Fields  []layoutFieldJSON  `json:"fields"`
	Structs []layoutStructJSON `json:"structs"` // nested structs, dependencies first
	Enums   []layoutEnumJSON   `json:"enums"`
	Layout  string             `json:"layout"` // the layout description as stored
}

type layoutFieldJSON struct {
	Name    string `json:"name"`
	Offset  uint64 `json:"offset"`
	Size    uint64 `json:"size"`
	Type    string `json:"type"`
	Padding bool   `json:"padding"`
}

type layoutStructJSON struct {
	Name   string            `json:"name"`
	Size   uint64            `json:"size"`
	Align  uint64            `json:"align"`
	Fields []layoutFieldJSON `json:"fields"`
}

type layoutEnumJSON struct {
	Name   string                `json:"name"`
	Type   string                `json:"type"`
	Values []layoutEnumValueJSON `json:"values"`
}

type layoutEnumValueJSON struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

func newTypeLayoutJSON(ti iox2.TypeInfo, variant string) *typeLayoutJSON {
	t := &typeLayoutJSON{Name: ti.Name, Size: ti.Size, Align: ti.Align, LayoutHash: ti.LayoutHash,
		Variant: variant, Layout: ti.Layout, Structs: []layoutStructJSON{}, Enums: []layoutEnumJSON{}}
	t.LayoutFormat, _, _ = strings.Cut(ti.Layout, "\n")
	// typecodec reads both formats: iox2gen's "iox2-layout/1" and the one
	// the runtime derives from a Go type by reflection (no header line).
	// Anything else (or a malformed layout) is printed as stored.
	ty, err := typecodec.Parse(ti)
	if err != nil || ty.Kind() != typecodec.Struct {
		return t
	}
	named := t.LayoutFormat == "iox2-layout/1" // structs have scoped names
	if !named {
		t.LayoutFormat = ""
	}
	t.Fields = codecFields(ty)
	seen := map[string]bool{}
	var visit func(st *typecodec.Type, path string)
	visit = func(st *typecodec.Type, path string) {
		for _, f := range st.Fields() {
			ft := f.Type
			for ft != nil && ft.Kind() != typecodec.Struct && ft.Kind() != typecodec.Enum && ft.Elem() != nil {
				ft = ft.Elem() // arrays and sequences of structs or enums
			}
			switch {
			case ft == nil:
			case ft.Kind() == typecodec.Enum && !seen[ft.Name()]:
				seen[ft.Name()] = true
				en := layoutEnumJSON{Name: ft.Name(), Type: fmt.Sprintf("uint%d", 8*ft.Size()), Values: []layoutEnumValueJSON{}}
				for _, v := range ft.Enumerators() {
					en.Values = append(en.Values, layoutEnumValueJSON{v.Name, int64(v.Value)})
				}
				t.Enums = append(t.Enums, en)
			case ft.Kind() == typecodec.Struct:
				name := path + f.Name // a Go type's nested structs are named by their path
				if named {
					name = ft.Name()
				}
				if seen[name] {
					continue
				}
				seen[name] = true
				if named {
					visit(ft, "") // dependencies first
				}
				t.Structs = append(t.Structs, layoutStructJSON{Name: name, Size: uint64(ft.Size()), Align: uint64(ft.Align()), Fields: codecFields(ft)})
				if !named {
					visit(ft, name+".")
				}
			}
		}
	}
	visit(ty, "")
	return t
}

// codecFields returns the fields of struct ty, padding included.
func codecFields(ty *typecodec.Type) []layoutFieldJSON {
	out := []layoutFieldJSON{}
	for _, f := range ty.Fields() {
		if f.Pad() {
			out = append(out, layoutFieldJSON{Offset: uint64(f.Offset), Size: uint64(f.Size), Padding: true})
			continue
		}
		out = append(out, layoutFieldJSON{Name: f.Name, Offset: uint64(f.Offset), Size: uint64(f.Size), Type: f.TypeText()})
	}
	return out
}
