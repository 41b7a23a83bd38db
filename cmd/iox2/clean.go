package main

// iox2 clean: remove what dead nodes left behind.
//
// runtime.CleanupDeadNodes does the work and says what became of each dead
// node (removed by it, removed by another cleaner meanwhile, still being
// cleaned by another cleaner when it stopped waiting, or an error), but not
// which files went. To say that, clean lists every dead node's files first
// (its lock file, its directory and what is in it, the shared-memory
// segments of its ports, found through the port journal in its directory
// and through the services' dynamic segments, and the files of the
// services that it was the last node of) and afterwards reports those that
// no longer exist. The file names follow the runtime's naming scheme
// (runtime/config.go, runtime/journal.go).
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
	"github.com/iox2go/iox2go/runtime/shm"
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
header (magic, protocol version, size), cannot be opened or created again
until its files are gone. One that a live node holds is kept (that node
may be creating it, or still use it).

Only one cleaner works on a dead node at a time. When another one (a live
node that watched it die, another clean) is at it, clean waits for it, up to
4 times the creation timeout (2s by default). When clean returns, every
node that was dead when it started is gone, or clean says why not.

Prints one line per node: "removed node ID (pid P, name N): K files",
"node ID (...) was removed by another cleaner: K files", "node ID (...) is
still being cleaned by pid P (node N): K files removed so far, L left",
"node ID (...) is kept for live receivers that have not mapped what it
sent: K files removed so far, L left" or "could not clean node ID (...): removed K files, L left" followed by
"  error: ..."; one per corrupted service: "removed corrupted service HASH
(name N, pattern P): K files" followed by "  reason: ..." (or "kept
corrupted service ...: held by live node ID"); or "nothing to clean".
--dry-run only lists what would be removed, file by file; --verbose lists
the files removed. A dead node that is still there when clean ends (still
being cleaned by another cleaner, kept because a live receiver has still
not mapped the samples it sent, or an error such as no permission) makes
clean exit with code 1.

With --json: {"dry_run", "cleaned", "cleaned_by_others", "in_progress",
"kept_for_receivers", "failed", "nodes": [{"id", "pid", "name", "outcome", "error", "cleaner",
"removed", "files", "remaining"}], "services": [{"hash", "name",
"pattern", "reason", "held_by", "removed", "files", "remaining"}]} where
"outcome" is "removed", "removed_by_other", "in_progress",
"kept_for_receivers" or "failed"
("" with --dry-run), "cleaner" is {"pid", "node"} of the cleaner still at
work for "in_progress" (else null), "files" are the files removed (or,
with --dry-run, to be removed) and "remaining" those of them still there
afterwards (for a service kept because a live node holds it: all of its
files).`,
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
	ID        string       `json:"id"`
	PID       int          `json:"pid"`
	Name      string       `json:"name"`
	Outcome   string       `json:"outcome"` // see outcomeWord; "" with --dry-run
	Error     string       `json:"error"`   // why it is not removed; "" when it is
	Cleaner   *cleanerJSON `json:"cleaner"` // who is still cleaning it (outcome "in_progress")
	Removed   bool         `json:"removed"`
	Files     []string     `json:"files"`
	Remaining []string     `json:"remaining"`

	cleaner iox2.Cleaner // Cleaner as the runtime gave it
}

// cleanerJSON is who holds a dead node's cleaner lock.
type cleanerJSON struct {
	PID  int    `json:"pid"`  // 0 when it did not say
	Node string `json:"node"` // "" when it runs without a node, or did not say
}

// outcomeWord is the JSON word of a node's cleanup outcome.
func outcomeWord(o iox2.CleanupOutcome) string {
	switch o {
	case iox2.CleanupDone:
		return "removed"
	case iox2.CleanupDoneByOther:
		return "removed_by_other"
	case iox2.CleanupInProgress:
		return "in_progress"
	case iox2.CleanupDraining:
		return "kept_for_receivers"
	}
	return "failed"
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
			for _, name := range journaledSegments(cfg.Prefix, d.Name(), shmNames) {
				add(filepath.Join(cfg.ShmDir, name))
			}
		}
		return nil
	})
	add(filepath.Join(nodesDir, cfg.Prefix+id+".lock"))
	// A cleaner lock file that nobody holds was left by a cleaner of n
	// killed at work (a peer that watched n die and was killed next); the
	// cleanup of n removes it. One that is held is its cleaner's.
	if cpath := filepath.Join(nodesDir, cfg.Prefix+id+".cleaner"); probeDead(cpath) {
		add(cpath)
	}
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

// probeDead reports whether the lock file at path exists and nobody holds
// it.
func probeDead(path string) bool {
	st, err := shm.Probe(path)
	return err == nil && st == shm.Dead
}

// journaledSegments returns the shared-memory segments among names that
// the port journal entry named entry (a file of a node's directory,
// "<port-id>.data.port" or "<port-id>.event.port") records: the port's
// data segment and the connections it created, or its event segment. The
// cleanup of the dead node removes them whatever the service's dynamic
// segment says. Any other name records nothing.
func journaledSegments(prefix, entry string, names []string) []string {
	rest, ok := strings.CutSuffix(entry, ".port")
	if !ok {
		return nil
	}
	id, kind, ok := strings.Cut(rest, ".")
	if !ok || (kind != "data" && kind != "event") {
		return nil
	}
	var out []string
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, prefix)
		if ok && (rest == id+"."+kind || kind == "data" && strings.HasPrefix(rest, id+"_") && strings.HasSuffix(rest, ".connection")) {
			out = append(out, n)
		}
	}
	return out
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
			setOutcome(j, st)
		}
	}
	failed := cleanError(cfg, st, out)
	if e.json {
		if err := printJSON(e.stdout, struct {
			DryRun          bool               `json:"dry_run"`
			Cleaned         int                `json:"cleaned"`
			CleanedByOthers int                `json:"cleaned_by_others"`
			InProgress      int                `json:"in_progress"`
			KeptForRecv     int                `json:"kept_for_receivers"`
			Failed          int                `json:"failed"`
			Nodes           []cleanNodeJSON    `json:"nodes"`
			Services        []cleanServiceJSON `json:"services"`
		}{dryRun, st.Cleanups, st.CleanedByOthers, st.InProgress, st.Draining, st.FailedCleanups, out, svcOut}); err != nil {
			return err
		}
		return failed
	}
	w := e.stdout
	if len(out) == 0 && len(st.Nodes) == 0 && len(svcOut) == 0 && st.CorruptServices == 0 {
		fmt.Fprintln(w, "nothing to clean")
		return failed
	}
	for _, j := range out {
		who := fmt.Sprintf("node %s (pid %s, name %s)", j.ID, pidCell(j.PID), dashIfEmpty(j.Name))
		switch {
		case dryRun:
			fmt.Fprintf(w, "would remove %s: %s\n", who, countWord(len(j.Files), "file"))
		case j.Outcome == "removed":
			fmt.Fprintf(w, "removed %s: %s\n", who, countWord(len(j.Files), "file"))
		case j.Outcome == "removed_by_other":
			fmt.Fprintf(w, "%s was removed by another cleaner: %s\n", who, countWord(len(j.Files), "file"))
		case j.Outcome == "in_progress":
			fmt.Fprintf(w, "%s is still being cleaned by %s: %s removed so far, %d left\n", who, j.cleanerText(), countWord(len(j.Files), "file"), len(j.Remaining))
		case j.Outcome == "kept_for_receivers":
			fmt.Fprintf(w, "%s is kept for live receivers that have not mapped what it sent: %s removed so far, %d left\n", who, countWord(len(j.Files), "file"), len(j.Remaining))
		default:
			fmt.Fprintf(w, "could not clean %s: removed %s, %d left\n", who, countWord(len(j.Files), "file"), len(j.Remaining))
			fmt.Fprintf(w, "  error: %s\n", j.Error)
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
	if !dryRun {
		// Nodes that died after clean listed them: the runtime's outcomes.
		listed := map[string]bool{}
		for _, j := range out {
			listed[j.ID] = true
		}
		var more, moreByOther int
		for _, n := range st.Nodes {
			switch {
			case listed[n.ID.String()]:
			case n.Outcome == iox2.CleanupDone:
				more++
			case n.Outcome == iox2.CleanupDoneByOther:
				moreByOther++
			default:
				fmt.Fprintf(w, "node %s died while clean ran and is left: %s\n", n.ID, stripIox2(n.Err.Error()))
			}
		}
		if more > 0 {
			fmt.Fprintf(w, "removed %s that died while clean ran\n", countWord(more, "more node"))
		}
		if moreByOther > 0 {
			fmt.Fprintf(w, "another cleaner removed %s that died while clean ran\n", countWord(moreByOther, "more node"))
		}
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

// setOutcome sets the outcome of dead node j from the runtime's cleanup
// state st.
func setOutcome(j *cleanNodeJSON, st iox2.CleanupState) {
	for _, n := range st.Nodes {
		if n.ID.String() != j.ID {
			continue
		}
		j.Outcome = outcomeWord(n.Outcome)
		if n.Err != nil {
			j.Error = stripIox2(n.Err.Error())
		}
		if n.Outcome == iox2.CleanupInProgress {
			j.cleaner = n.Cleaner
			j.Cleaner = &cleanerJSON{PID: n.Cleaner.PID}
			if n.Cleaner.Node != 0 {
				j.Cleaner.Node = n.Cleaner.Node.String()
			}
		}
		return
	}
	// The runtime did not find it dead: someone removed it between clean's
	// listing and the cleanup, or it cannot be read any more.
	if j.Removed {
		j.Outcome = "removed_by_other"
		return
	}
	j.Outcome = "failed"
	j.Error = "dead node " + j.ID + ": no longer dead, or no longer readable, when the cleanup looked at it"
}

// cleanerText says who is still cleaning node j.
func (j *cleanNodeJSON) cleanerText() string { return j.cleaner.String() }

// cleanError is the error of clean when dead nodes are left, one line
// per node saying which and why; nil when there are none.
func cleanError(cfg *iox2.Config, st iox2.CleanupState, out []cleanNodeJSON) error {
	var msgs []string
	listed := map[string]bool{}
	for _, j := range out {
		listed[j.ID] = true
		if j.Error != "" {
			msgs = append(msgs, j.Error)
		}
	}
	for _, n := range st.Nodes {
		if !listed[n.ID.String()] && n.Err != nil {
			msgs = append(msgs, stripIox2(n.Err.Error()))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s left (%s):\n%s", countWord(len(msgs), "dead node"), domainDesc(cfg), strings.Join(msgs, "\n"))
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
