package main

// iox2 clean: remove what dead nodes left behind.
//
// runtime.CleanupDeadNodes does the work but only counts the nodes it
// cleaned. To say which files went, clean lists every dead node's files
// first (its lock file, its directory and what is in it, the shared-memory
// segments of its ports, and the files of the services that it was the
// last node of) and afterwards reports those that no longer exist. The file
// names follow the runtime's naming scheme (runtime/config.go).
//
// CleanupDeadNodes also removes the corrupted services that no node holds
// (runtime.ListCorruptServices): clean lists them too, before and after.

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	iox2 "github.com/iox2go/iox2go/runtime"
)

func init() {
	var dryRun, verbose bool
	register(&command{
		path:    "clean",
		summary: "remove the files and shared memory that dead nodes and corrupted services left behind",
		help: `Removes the resources of every dead node of the domain (a node whose process
is gone without closing it): its lock and directory, the shared-memory
segments of its ports, and the services it was the last node of. Chunks
that its subscribers held go back to the publishers' pools. Live nodes do
this too whenever a node is created or closed; clean does it now.

It also removes the corrupted services that no node holds: a service whose
static configuration cannot be decoded, or whose dynamic segment has a bad
header (magic, layout version, size), cannot be opened or created again
until its files are gone. One that a live node holds is kept (that node
may be creating it, or still use it).

Prints one line per node: "removed node ID (pid P, name N): K files", one
per corrupted service: "removed corrupted service HASH (name N, pattern
P): K files" followed by "  reason: ..." (or "kept corrupted service ...:
held by live node ID"), or "nothing to clean". --dry-run only lists what
would be removed, file by file; --verbose lists the files removed. A dead
node that could not be cleaned (another process is cleaning it, or no
permission) makes clean exit with code 1.

With --json: {"dry_run", "cleaned", "failed", "nodes": [{"id", "pid",
"name", "removed", "files", "remaining"}], "services": [{"hash", "name",
"pattern", "reason", "held_by", "removed", "files", "remaining"}]} where
"files" are the files removed (or, with --dry-run, to be removed) and
"remaining" those of them still there afterwards (for a service kept
because a live node holds it: all of its files).`,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&dryRun, "dry-run", false, "list what would be removed, remove nothing")
			fs.BoolVar(&verbose, "verbose", false, "list every file removed")
			fs.BoolVar(&verbose, "v", false, "short for --verbose")
		},
		maxArgs: 0,
		run: func(e *env, args []string) error {
			return clean(e, dryRun, verbose)
		},
	})
}

// cleanNodeJSON is one dead node in the output of clean.
type cleanNodeJSON struct {
	ID        string   `json:"id"`
	PID       int      `json:"pid"`
	Name      string   `json:"name"`
	Removed   bool     `json:"removed"`
	Files     []string `json:"files"`
	Remaining []string `json:"remaining"`
}

// cleanServiceJSON is one corrupted service in the output of clean.
type cleanServiceJSON struct {
	Hash      string   `json:"hash"`
	Name      string   `json:"name"`
	Pattern   string   `json:"pattern"`
	Reason    string   `json:"reason"`
	HeldBy    []string `json:"held_by"` // the live (or inaccessible) nodes that hold it
	Removed   bool     `json:"removed"`
	Files     []string `json:"files"`
	Remaining []string `json:"remaining"`
}

// corruptServices lists the corrupted services of the domain: those that
// the cleanup removes (no node holds them but dead ones, whose cleanup
// lets go of them) with their files, and those it keeps (held by a node
// that is not dead) with their files as remaining. Files listed earlier
// (in seen) are left out.
func corruptServices(cfg *iox2.Config, states map[iox2.ID]iox2.NodeState, seen map[string]bool) ([]cleanServiceJSON, error) {
	list, err := iox2.ListCorruptServices(cfg)
	if err != nil {
		return nil, fmt.Errorf("list services in %s: %w", cfg.Root, err)
	}
	out := []cleanServiceJSON{}
	for _, c := range list {
		j := cleanServiceJSON{Hash: c.Hash, Name: c.Name, Pattern: c.Pattern, Reason: c.Reason,
			HeldBy: []string{}, Files: []string{}, Remaining: []string{}}
		for _, id := range c.HeldBy {
			if states[id] != iox2.NodeDead {
				j.HeldBy = append(j.HeldBy, id.String())
			}
		}
		for _, f := range c.Files {
			if seen[f] {
				continue
			}
			seen[f] = true
			if len(j.HeldBy) > 0 {
				j.Remaining = append(j.Remaining, f)
			} else {
				j.Files = append(j.Files, f)
			}
		}
		out = append(out, j)
	}
	return out, nil
}

// deadNodeFiles lists the files that belong to dead node n: the paths
// that the cleanup of n removes, sorted. Files listed for an earlier node
// (in seen) are left out.
func deadNodeFiles(cfg *iox2.Config, n iox2.NodeInfo, svcs []iox2.ServiceInfo, shmNames []string, states map[iox2.ID]iox2.NodeState, seen map[string]bool) []string {
	var files []string
	add := func(p string) {
		if seen[p] {
			return
		}
		if _, err := os.Lstat(p); err == nil {
			seen[p] = true
			files = append(files, p)
		}
	}
	id := n.ID.String()
	nodesDir := filepath.Join(cfg.Root, "nodes")
	dir := filepath.Join(nodesDir, cfg.Prefix+id)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			add(p)
		}
		return nil
	})
	add(filepath.Join(nodesDir, cfg.Prefix+id+".lock"))
	for _, s := range svcs {
		attached, others := false, false
		for _, other := range s.Nodes {
			if other == n.ID {
				attached = true
			} else if states[other] != iox2.NodeDead {
				others = true
			}
		}
		for _, g := range servicePortGroups(s) {
			for _, p := range g.ports {
				if p.Node != n.ID {
					continue
				}
				attached = true
				for _, name := range portSegments(cfg.Prefix, p.ID.String(), shmNames) {
					add(filepath.Join(cfg.ShmDir, name))
				}
			}
		}
		if attached && !others {
			// The last node: the service goes with it.
			add(filepath.Join(cfg.ShmDir, cfg.Prefix+s.Static.Hash+"_"+s.Static.UID+".dynamic"))
			add(filepath.Join(cfg.Root, "services", cfg.Prefix+s.Static.Hash+".service"))
		}
	}
	sort.Strings(files)
	return files
}

// portSegments returns the shared-memory segments of port id among names:
// its data or event segment and the connections from and to it.
func portSegments(prefix, id string, names []string) []string {
	var out []string
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, prefix)
		if !ok {
			continue
		}
		switch {
		case rest == id+".data", rest == id+".event":
		case strings.HasSuffix(rest, ".connection") &&
			(strings.HasPrefix(rest, id+"_") || strings.HasSuffix(rest, "_"+id+".connection")):
		default:
			continue
		}
		out = append(out, n)
	}
	return out
}

func clean(e *env, dryRun, verbose bool) error {
	cfg := e.cfg
	nodes, err := sortedNodes(cfg)
	if err != nil {
		return err
	}
	states := map[iox2.ID]iox2.NodeState{}
	var dead []iox2.NodeInfo
	for _, n := range nodes {
		states[n.ID] = n.State
		if n.State == iox2.NodeDead {
			dead = append(dead, n)
		}
	}
	var svcs []iox2.ServiceInfo
	var shmNames []string
	if len(dead) > 0 {
		if svcs, err = iox2.ListServices(cfg); err != nil {
			return fmt.Errorf("list services in %s: %w", cfg.Root, err)
		}
		ents, err := os.ReadDir(cfg.ShmDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("list shared memory: %w", err)
		}
		for _, ent := range ents {
			if strings.HasPrefix(ent.Name(), cfg.Prefix) {
				shmNames = append(shmNames, ent.Name())
			}
		}
	}
	seen := map[string]bool{}
	out := []cleanNodeJSON{}
	for _, n := range dead {
		j := cleanNodeJSON{ID: n.ID.String(), Files: deadNodeFiles(cfg, n, svcs, shmNames, states, seen), Remaining: []string{}}
		if n.Details != nil {
			j.PID, j.Name = n.Details.PID, n.Details.Name
		}
		out = append(out, j)
	}
	svcOut, err := corruptServices(cfg, states, seen)
	if err != nil {
		return err
	}
	var st iox2.CleanupState
	if !dryRun {
		st = iox2.CleanupDeadNodes(cfg)
		for i := range svcOut {
			j := &svcOut[i]
			if len(j.HeldBy) > 0 {
				continue
			}
			j.Files, j.Remaining = splitGone(j.Files)
			j.Removed = len(j.Remaining) == 0
		}
		for i := range out {
			j := &out[i]
			j.Files, j.Remaining = splitGone(j.Files)
			_, err := os.Lstat(filepath.Join(cfg.Root, "nodes", cfg.Prefix+j.ID+".lock"))
			_, derr := os.Lstat(filepath.Join(cfg.Root, "nodes", cfg.Prefix+j.ID))
			j.Removed = errors.Is(err, fs.ErrNotExist) && errors.Is(derr, fs.ErrNotExist)
		}
	}
	var failed error
	if st.FailedCleanups > 0 {
		failed = fmt.Errorf("%d dead node(s) could not be cleaned (being cleaned by another process, no permission, or holding samples for a live receiver that has not mapped them yet; %s)", st.FailedCleanups, domainDesc(cfg))
	}
	if e.json {
		if err := printJSON(e.stdout, struct {
			DryRun   bool               `json:"dry_run"`
			Cleaned  int                `json:"cleaned"`
			Failed   int                `json:"failed"`
			Nodes    []cleanNodeJSON    `json:"nodes"`
			Services []cleanServiceJSON `json:"services"`
		}{dryRun, st.Cleanups, st.FailedCleanups, out, svcOut}); err != nil {
			return err
		}
		return failed
	}
	w := e.stdout
	if len(out) == 0 && st.Cleanups == 0 && len(svcOut) == 0 && st.CorruptServices == 0 {
		fmt.Fprintln(w, "nothing to clean")
		return failed
	}
	for _, j := range out {
		who := fmt.Sprintf("node %s (pid %s, name %s)", j.ID, pidCell(j.PID), dashIfEmpty(j.Name))
		switch {
		case dryRun:
			fmt.Fprintf(w, "would remove %s: %s\n", who, countWord(len(j.Files), "file"))
		case j.Removed:
			fmt.Fprintf(w, "removed %s: %s\n", who, countWord(len(j.Files), "file"))
		default:
			fmt.Fprintf(w, "could not clean %s: removed %s, %d left\n", who, countWord(len(j.Files), "file"), len(j.Remaining))
		}
		if dryRun || verbose {
			for _, f := range j.Files {
				fmt.Fprintf(w, "  %s\n", f)
			}
		}
		if !dryRun && len(j.Remaining) > 0 {
			for _, f := range j.Remaining {
				fmt.Fprintf(w, "  left: %s\n", f)
			}
		}
	}
	if extra := st.Cleanups - countCleanedNodes(out); extra > 0 && !dryRun {
		fmt.Fprintf(w, "removed %s that died while clean ran\n", countWord(extra, "more node"))
	}
	removedSvcs := 0
	for _, j := range svcOut {
		what := fmt.Sprintf("corrupted service %s (name %s, pattern %s)", j.Hash, dashIfEmpty(j.Name), dashIfEmpty(j.Pattern))
		switch {
		case len(j.HeldBy) > 0:
			fmt.Fprintf(w, "kept %s: held by live node %s\n", what, strings.Join(j.HeldBy, ", "))
		case dryRun:
			fmt.Fprintf(w, "would remove %s: %s\n", what, countWord(len(j.Files), "file"))
		case j.Removed:
			removedSvcs++
			fmt.Fprintf(w, "removed %s: %s\n", what, countWord(len(j.Files), "file"))
		default:
			fmt.Fprintf(w, "could not remove %s: removed %s, %d left\n", what, countWord(len(j.Files), "file"), len(j.Remaining))
		}
		fmt.Fprintf(w, "  reason: %s\n", j.Reason)
		if len(j.HeldBy) == 0 && (dryRun || verbose) {
			for _, f := range j.Files {
				fmt.Fprintf(w, "  %s\n", f)
			}
		}
		if len(j.HeldBy) == 0 && !dryRun && len(j.Remaining) > 0 {
			for _, f := range j.Remaining {
				fmt.Fprintf(w, "  left: %s\n", f)
			}
		}
	}
	if extra := st.CorruptServices - removedSvcs; extra > 0 && !dryRun {
		fmt.Fprintf(w, "removed %s that clean had not listed\n", countWord(extra, "more corrupted service"))
	}
	return failed
}

func countCleanedNodes(out []cleanNodeJSON) int {
	n := 0
	for _, j := range out {
		if j.Removed {
			n++
		}
	}
	return n
}

// splitGone splits files into those that no longer exist and the others.
func splitGone(files []string) (gone, remaining []string) {
	gone = []string{} // a JSON list, never null
	for _, f := range files {
		if _, err := os.Lstat(f); errors.Is(err, fs.ErrNotExist) {
			gone = append(gone, f)
		} else {
			remaining = append(remaining, f)
		}
	}
	return gone, remaining
}
