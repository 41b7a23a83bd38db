package main

// iox2 node list and iox2 node details: the nodes of a domain, their
// liveness and the services they are attached to.

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

func init() {
	var state string
	register(&command{
		path:    "node list",
		summary: "list the nodes of the domain with their state",
		help: `Lists every node of the domain, oldest first: its ID (16 hex digits), its
state, the PID, name and executable of its process and when it was created.

States: alive (its process holds the node's lock), dead (the process is
gone and left files behind: 'iox2 clean' removes them), inaccessible (its
files cannot be read, for example another user's node).

With --json: {"num": N, "nodes": [{"id", "state", "pid", "name",
"executable", "created", "version"}]}; "created" is RFC 3339 or null when
the node's details cannot be read (pid is then 0, the strings empty).`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&state, "state", "all", "show only nodes in `STATE`: alive, dead, inaccessible or all")
		},
		maxArgs: 0,
		run: func(e *env, args []string) error {
			return nodeList(e, state)
		},
	})
	register(&command{
		path:    "node details",
		args:    "<id|name|pid>",
		summary: "show a node and the services it is attached to",
		help: `Shows one node: its details and, for every service it is attached to, the
ports it has there.

The argument selects the node as iceoryx2's CLI does: 16 hex digits are a
node ID, a number is a PID, anything else is a node name (a node ID or PID
that matches no node is also tried as a name). Names are not unique: every
node with the name is shown. No match exits with code 3.

With --json: {"num": N, "nodes": [{"id", "state", "pid", "name",
"executable", "created", "version", "services": [{"name", "pattern",
"hash", "ports": [{"kind", "id"}]}]}]}.`,
		minArgs: 1,
		maxArgs: 1,
		run: func(e *env, args []string) error {
			return nodeDetails(e, args[0])
		},
	})
}

// nodeJSON is one node in the JSON output of the node commands.
type nodeJSON struct {
	ID         string             `json:"id"`
	State      string             `json:"state"`
	PID        int                `json:"pid"`
	Name       string             `json:"name"`
	Executable string             `json:"executable"`
	Created    *time.Time         `json:"created"`
	Version    string             `json:"version"`
	Services   *[]nodeServiceJSON `json:"services,omitempty"`
}

// nodeServiceJSON is a service that a node is attached to.
type nodeServiceJSON struct {
	Name    string         `json:"name"`
	Pattern string         `json:"pattern"`
	Hash    string         `json:"hash"`
	Ports   []nodePortJSON `json:"ports"`
}

// nodePortJSON is one port of a node in a service.
type nodePortJSON struct {
	Kind string `json:"kind"` // publisher, subscriber, notifier, listener, client, server
	ID   string `json:"id"`
}

func toNodeJSON(n iox2.NodeInfo) nodeJSON {
	j := nodeJSON{ID: n.ID.String(), State: n.State.String()}
	if d := n.Details; d != nil {
		j.PID, j.Name, j.Executable, j.Version = d.PID, d.Name, d.Executable, d.Version
		c := d.Created.UTC()
		j.Created = &c
	}
	return j
}

// parseNodeState checks the --state flag.
func parseNodeState(s string) (func(iox2.NodeState) bool, error) {
	switch strings.ToLower(s) {
	case "all", "":
		return func(iox2.NodeState) bool { return true }, nil
	case "alive":
		return func(st iox2.NodeState) bool { return st == iox2.NodeAlive }, nil
	case "dead":
		return func(st iox2.NodeState) bool { return st == iox2.NodeDead }, nil
	case "inaccessible":
		return func(st iox2.NodeState) bool { return st == iox2.NodeInaccessible }, nil
	}
	return nil, usagef("--state %q: want alive, dead, inaccessible or all", s)
}

// sortedNodes lists the domain's nodes, oldest first (nodes whose details
// are unreadable last, by ID).
func sortedNodes(cfg *iox2.Config) ([]iox2.NodeInfo, error) {
	nodes, err := iox2.ListNodes(cfg)
	if err != nil {
		return nil, fmt.Errorf("list nodes in %s: %w", cfg.Root, err)
	}
	sort.SliceStable(nodes, func(i, j int) bool {
		a, b := nodes[i].Details, nodes[j].Details
		switch {
		case a == nil || b == nil:
			if (a == nil) != (b == nil) {
				return b == nil
			}
		case !a.Created.Equal(b.Created):
			return a.Created.Before(b.Created)
		}
		return nodes[i].ID < nodes[j].ID
	})
	return nodes, nil
}

func nodeList(e *env, state string) error {
	keep, err := parseNodeState(state)
	if err != nil {
		return err
	}
	nodes, err := sortedNodes(e.cfg)
	if err != nil {
		return err
	}
	out := []nodeJSON{}
	for _, n := range nodes {
		if keep(n.State) {
			out = append(out, toNodeJSON(n))
		}
	}
	if e.json {
		return printJSON(e.stdout, struct {
			Num   int        `json:"num"`
			Nodes []nodeJSON `json:"nodes"`
		}{len(out), out})
	}
	if len(out) == 0 {
		fmt.Fprintf(e.stdout, "no nodes (%s)\n", domainDesc(e.cfg))
		return nil
	}
	t := newTable(e.stdout, "ID", "STATE", "PID", "NAME", "EXECUTABLE", "CREATED")
	for _, n := range out {
		t.row(n.ID, n.State, pidCell(n.PID), dashIfEmpty(n.Name), dashIfEmpty(n.Executable), timeCell(n.Created))
	}
	return t.flush()
}

// domainDesc names the domain in messages: its root and prefix.
func domainDesc(cfg *iox2.Config) string {
	return fmt.Sprintf("root %s, prefix %s", cfg.Root, cfg.Prefix)
}

func pidCell(pid int) string {
	if pid == 0 {
		return "-"
	}
	return strconv.Itoa(pid)
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeCell(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// looksLikeNodeID reports whether s has the form of a node ID: 16 hex digits.
func looksLikeNodeID(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := strconv.ParseUint(s, 16, 64)
	return err == nil
}

// matchNodeArg selects the nodes that the argument of node details names.
func matchNodeArg(nodes []iox2.NodeInfo, arg string) []iox2.NodeInfo {
	var out []iox2.NodeInfo
	pick := func(f func(iox2.NodeInfo) bool) {
		for _, n := range nodes {
			if f(n) {
				out = append(out, n)
			}
		}
	}
	if looksLikeNodeID(arg) {
		pick(func(n iox2.NodeInfo) bool { return strings.EqualFold(n.ID.String(), arg) })
	} else if pid, err := strconv.Atoi(arg); err == nil && pid > 0 {
		pick(func(n iox2.NodeInfo) bool { return n.Details != nil && n.Details.PID == pid })
	}
	if len(out) == 0 {
		pick(func(n iox2.NodeInfo) bool { return n.Details != nil && n.Details.Name == arg })
	}
	return out
}

// servicesOfNode returns the services that node id is attached to, with
// its ports there.
func servicesOfNode(svcs []iox2.ServiceInfo, id iox2.ID) []nodeServiceJSON {
	out := []nodeServiceJSON{}
	for _, s := range svcs {
		attached := false
		for _, n := range s.Nodes {
			if n == id {
				attached = true
			}
		}
		ports := []nodePortJSON{}
		for _, g := range servicePortGroups(s) {
			for _, p := range g.ports {
				if p.Node == id {
					ports = append(ports, nodePortJSON{Kind: g.kind, ID: p.ID.String()})
					attached = true
				}
			}
		}
		if attached {
			out = append(out, nodeServiceJSON{Name: s.Static.Name, Pattern: patternName(s.Static.Pattern), Hash: s.Static.Hash, Ports: ports})
		}
	}
	return out
}

func nodeDetails(e *env, arg string) error {
	nodes, err := sortedNodes(e.cfg)
	if err != nil {
		return err
	}
	matches := matchNodeArg(nodes, arg)
	if len(matches) == 0 {
		return notFoundf("no node with ID, PID or name %q (%s; see iox2 node list)", arg, domainDesc(e.cfg))
	}
	svcs, err := iox2.ListServices(e.cfg)
	if err != nil {
		return fmt.Errorf("list services in %s: %w", e.cfg.Root, err)
	}
	out := make([]nodeJSON, 0, len(matches))
	for _, n := range matches {
		j := toNodeJSON(n)
		s := servicesOfNode(svcs, n.ID)
		j.Services = &s
		out = append(out, j)
	}
	if e.json {
		return printJSON(e.stdout, struct {
			Num   int        `json:"num"`
			Nodes []nodeJSON `json:"nodes"`
		}{len(out), out})
	}
	for i, n := range out {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		if err := printNodeDetails(e.stdout, n); err != nil {
			return err
		}
	}
	return nil
}

func printNodeDetails(w io.Writer, n nodeJSON) error {
	fmt.Fprintf(w, "Node %s\n", n.ID)
	t := newTable(w, "  state:", n.State)
	t.row("  pid:", pidCell(n.PID))
	t.row("  name:", dashIfEmpty(n.Name))
	t.row("  executable:", dashIfEmpty(n.Executable))
	t.row("  created:", timeCell(n.Created))
	t.row("  version:", dashIfEmpty(n.Version))
	if err := t.flush(); err != nil {
		return err
	}
	svcs := *n.Services
	if len(svcs) == 0 {
		fmt.Fprintf(w, "\nServices: none\n")
		return nil
	}
	fmt.Fprintf(w, "\nServices (%d):\n", len(svcs))
	t = newTable(w, "  SERVICE", "PATTERN", "PORT", "PORT ID")
	for _, s := range svcs {
		if len(s.Ports) == 0 {
			t.row("  "+s.Name, s.Pattern, "-", "-")
		}
		for _, p := range s.Ports {
			t.row("  "+s.Name, s.Pattern, p.Kind, p.ID)
		}
	}
	return t.flush()
}
