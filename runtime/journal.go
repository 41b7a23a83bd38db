package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/shm"
)

// The port journal. Every port that creates files of its own in the
// shared-memory directory records itself in its node's directory before
// it creates the first of them, with one empty file named
//
//	<port-id>.<kind>.port
//
// and removes that entry after it removed its files. kind says which files
// the port creates (portKind). The cleanup of a dead node removes the files
// that its entries name, so it never depends on a service's dynamic
// segment, which every process of the domain can write (and damage): a
// port whose slot is unreadable is still found. One file per port is
// atomic to create and to remove and needs no lock.
//
// A node with in-process shared memory (Config.InProcess) writes no
// entries: its segments live on its process's heap and die with it.

// portKind is what files a port creates; it is the middle part of the
// name of the port's journal entry (see protocol.PortKind).
type portKind = protocol.PortKind

const (
	portSender      = protocol.PortSender   // data segment and connections
	portListener    = protocol.PortListener // event segment
	portEntrySuffix = protocol.SuffixPortEntry
)

// portEntryPath is the journal entry of port id of kind in node directory dir.
func portEntryPath(dir string, id ID, kind portKind) string {
	return filepath.Join(dir, protocol.PortEntryName(id, kind))
}

// parsePortEntry returns the port and kind of a journal entry's name;
// ok is false when name is not one.
func parsePortEntry(name string) (id ID, kind portKind, ok bool) {
	rest, ok := strings.CutSuffix(name, portEntrySuffix)
	if !ok {
		return 0, "", false
	}
	idStr, k, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, "", false
	}
	id, err := parseID(idStr)
	if err != nil || id == 0 || (portKind(k) != portSender && portKind(k) != portListener) {
		return 0, "", false
	}
	return id, portKind(k), true
}

// journalPort records port id of kind in the node's directory. Call it
// before the port creates any file.
func (n *Node) journalPort(id ID, kind portKind) error {
	if n.config.InProcess {
		return nil
	}
	f, err := os.OpenFile(portEntryPath(n.dir, id, kind), os.O_WRONLY|os.O_CREATE|os.O_EXCL, n.config.FileMode)
	if err != nil {
		return err
	}
	return f.Close()
}

// journalErr is the error of a port creation whose journal entry could
// not be written.
func journalErr(op, service string, err error) error {
	if s := errOr(err, nil); s != nil {
		return &ServiceError{Op: op, Service: service, Err: s, Detail: "record the port in its node's directory: " + err.Error()}
	}
	return &ServiceError{Op: op, Service: service, Err: fmt.Errorf("iox2: record the port in its node's directory: %w", err)}
}

// forgetPort removes the journal entry of port id. Call it after the
// port removed its files.
func (n *Node) forgetPort(id ID, kind portKind) {
	if !n.config.InProcess {
		os.Remove(portEntryPath(n.dir, id, kind))
	}
}

// journaledPorts reports which ports the journal in node directory dir
// records: the ports whose files are the node's to delete.
func journaledPorts(dir string) (owns func(ID) bool) {
	ents, _ := os.ReadDir(dir)
	set := make(map[ID]bool, len(ents))
	for _, e := range ents {
		if id, _, ok := parsePortEntry(e.Name()); ok {
			set[id] = true
		}
	}
	return func(id ID) bool { return set[id] }
}

// ownsNothing is the journal of a node whose directory is gone.
func ownsNothing(ID) bool { return false }

// removeJournaledPorts removes the files of every port that the journal
// in dead node directory dir records, then the entry, and reports whether
// every file went. An entry whose files could not all be removed stays,
// so that a later cleanup tries again.
func removeJournaledPorts(cfg *Config, p shm.Provider, dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	ok := true
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), portEntrySuffix) {
			continue
		}
		if id, kind, valid := parsePortEntry(e.Name()); valid && !removePortFiles(cfg, p, id, kind) {
			ok = false
			continue
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
	return ok
}

// removePortFiles removes the files that port id of kind created, those
// that exist, and reports whether none is left.
func removePortFiles(cfg *Config, p shm.Provider, id ID, kind portKind) bool {
	var names []string
	switch kind {
	case portSender:
		names = append(names, cfg.dataName(id))
		conns, err := p.List(protocol.ConnPrefix(cfg.Prefix, id))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false
		}
		for _, n := range conns {
			if strings.HasSuffix(n, protocol.SuffixConnection) {
				names = append(names, n)
			}
		}
	case portListener:
		names = append(names, cfg.eventName(id))
	}
	ok := true
	for _, n := range names {
		if err := p.Remove(n); err != nil && !errors.Is(err, shm.ErrNotExist) {
			ok = false
		}
	}
	return ok
}
