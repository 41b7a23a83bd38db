package runtime

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// NodeInfo describes a node of a domain, as seen from any process.
type NodeInfo struct {
	ID      ID
	State   NodeState
	Details *NodeDetails // nil when unreadable
}

// ListNodes returns the nodes of cfg's domain with their state, sorted by ID.
// A nil cfg stands for FindConfig's configuration; FindConfig's error (an
// invalid configuration file) is returned.
func ListNodes(cfg *Config) ([]NodeInfo, error) {
	if cfg == nil {
		var err error
		if cfg, _, err = FindConfig(); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(cfg.nodesDir()); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var out []NodeInfo
	for _, id := range listNodeIDs(cfg) {
		ni := NodeInfo{ID: id, State: nodeState(cfg, id)}
		if ni.State == NodeMissing {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(cfg.nodeDir(id), protocol.NodeDetailsName)); err == nil {
			var d NodeDetails
			if json.Unmarshal(b, &d) == nil {
				ni.Details = &d
			}
		} else if errors.Is(err, os.ErrPermission) {
			ni.State = NodeInaccessible
		}
		out = append(out, ni)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// PortInfo describes a port registered in a service.
type PortInfo struct {
	ID   ID
	Node ID
	// BufferSize and HistoryRequest are set for subscribers.
	BufferSize, HistoryRequest int
	// MaxActiveRequests is set for clients.
	MaxActiveRequests int
}

// ServiceInfo describes a service of a domain: its static config and, when
// its dynamic config can be mapped, its nodes and ports. An event
// service's notifiers are its Publishers and its listeners its
// Subscribers; a request-response service has Clients and Servers.
type ServiceInfo struct {
	Static      StaticConfig
	Nodes       []ID
	Publishers  []PortInfo
	Subscribers []PortInfo
	Clients     []PortInfo
	Servers     []PortInfo
}

// ListServices returns the services of cfg's domain, sorted by name and
// pattern. A nil cfg stands for FindConfig's configuration; FindConfig's
// error (an invalid configuration file) is returned.
func ListServices(cfg *Config) ([]ServiceInfo, error) {
	cfg, ents, err := serviceEntries(cfg)
	if err != nil || len(ents) == 0 {
		return nil, err
	}
	p := cfg.provider()
	var out []ServiceInfo
	for _, e := range ents {
		name := e.Name()
		hash, ok := strings.CutSuffix(strings.TrimPrefix(name, cfg.Prefix), protocol.SuffixService)
		if !ok || !strings.HasPrefix(name, cfg.Prefix) {
			continue
		}
		sc, err := readStatic(filepath.Join(cfg.servicesDir(), name), hash)
		if err != nil {
			continue
		}
		si := ServiceInfo{Static: *sc}
		if d, err := openDynamicAny(p, cfg.dynamicName(sc.Hash, sc.UID), cfg); err == nil {
			si.Nodes = d.nodeIDs()
			if d.Hdr.Pattern == uint32(PatternRequestResponse) {
				for i := range d.Pubs {
					if pi, ok := protocol.Snapshot(&d.Pubs[i]); ok {
						si.Clients = append(si.Clients, PortInfo{ID: pi.ID, Node: pi.Node, MaxActiveRequests: int(min(pi.Client().MaxActiveRequests, 1<<16))})
					}
				}
				for i := range d.Subs {
					if pi, ok := protocol.Snapshot(&d.Subs[i]); ok {
						si.Servers = append(si.Servers, PortInfo{ID: pi.ID, Node: pi.Node})
					}
				}
				d.close()
				out = append(out, si)
				continue
			}
			for i := range d.Pubs {
				if pi, ok := protocol.Snapshot(&d.Pubs[i]); ok {
					si.Publishers = append(si.Publishers, PortInfo{ID: pi.ID, Node: pi.Node})
				}
			}
			for i := range d.Subs {
				if pi, ok := protocol.Snapshot(&d.Subs[i]); ok {
					si.Subscribers = append(si.Subscribers, PortInfo{ID: pi.ID, Node: pi.Node,
						BufferSize: int(pi.Subscriber().BufferSize), HistoryRequest: int(pi.Subscriber().HistoryRequest)})
				}
			}
			d.close()
		}
		out = append(out, si)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Static.Name != out[j].Static.Name {
			return out[i].Static.Name < out[j].Static.Name
		}
		return out[i].Static.Pattern < out[j].Static.Pattern
	})
	return out, nil
}

// serviceEntries returns the configuration to use (FindConfig's when cfg
// is nil) and the entries of its domain's services directory; none when
// the directory does not exist.
func serviceEntries(cfg *Config) (*Config, []os.DirEntry, error) {
	if cfg == nil {
		var err error
		if cfg, _, err = FindConfig(); err != nil {
			return nil, nil, err
		}
	}
	ents, err := os.ReadDir(cfg.servicesDir())
	if errors.Is(err, os.ErrNotExist) {
		return cfg, nil, nil
	}
	return cfg, ents, err
}
