// Command iox2 is the operator's command line of iox2go: it lists and
// describes the nodes and services of a domain, shows and writes the
// configuration, removes what dead processes left behind, and talks to live
// services (publish, subscribe, notify, listen, hz, record, replay) without
// generated code, because every service stores its payload's layout.
//
// Usage:
//
//	iox2 [global flags] <command> [<subcommand>] [flags] [arguments]
//
// Run `iox2 --help` for the commands and `iox2 <command> --help` for one of
// them; docs/CLI.md describes every command, its output and exit codes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// Exit codes. Scripts can rely on them; docs/CLI.md lists them.
const (
	exitOK       = 0 // the command did what was asked
	exitFailure  = 1 // it failed (a runtime or I/O error, a malformed message)
	exitUsage    = 2 // the command line was wrong: unknown command or flag, bad argument
	exitNotFound = 3 // the node or service named does not exist
	exitTimeout  = 4 // a wait ended (--timeout) before anything arrived
)

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// notFoundError reports a node or service that does not exist: exit code 3.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

func notFoundf(format string, args ...any) error {
	return &notFoundError{fmt.Sprintf(format, args...)}
}

// errTimeout ends a wait that saw nothing: exit code 4.
var errTimeout = errors.New("timed out before anything arrived")

// command is one leaf of the command tree, such as "node list".
type command struct {
	path    string // words after iox2: "node list"
	args    string // synopsis of the positional arguments: "<name>"
	summary string // one line for the command list
	help    string // paragraphs for `--help`, may be empty
	// flags declares the command's own flags on fs; may be nil.
	flags func(fs *flag.FlagSet)
	// minArgs and maxArgs bound the positional arguments (maxArgs < 0: any).
	minArgs, maxArgs int
	// noConfig skips loading the configuration before run: for commands
	// that work without one or load it themselves (e.loadConfig), such as
	// the config commands: config show current loads it (and fails on an
	// invalid file), the others must work when the file is invalid.
	noConfig bool
	run      func(e *env, args []string) error
}

var commands []*command

// register adds c to the command tree; each command file calls it from init.
func register(c *command) { commands = append(commands, c) }

// env is what a command runs with: the output streams and the global flags.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	json           bool   // --json: machine-readable output
	configPath     string // --config
	root, prefix   string // --root, --prefix: override the configuration's
	cfg            *iox2.Config
	cfgSource      string // the file the configuration came from, "" for defaults
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, stdin: stdin}
	code, err := dispatch(e, args)
	if err != nil {
		if e.json && code != exitUsage {
			writeJSONError(stderr, err, code)
		} else {
			printMessage(stderr, "", errorText(err))
		}
	}
	return code
}

func exitCode(err error) int {
	var ue *usageError
	var nf *notFoundError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &nf):
		return exitNotFound
	case errors.Is(err, errTimeout):
		return exitTimeout
	}
	return exitFailure
}

// globalFlags declares the flags that every command accepts, before or
// after the command's name.
func globalFlags(fs *flag.FlagSet, e *env) {
	// The current values are the defaults: flags given before the command
	// survive the second parse, after it.
	fs.BoolVar(&e.json, "json", e.json, "print JSON instead of tables and text")
	fs.StringVar(&e.configPath, "config", e.configPath, "use the configuration `FILE` (default: $"+iox2.ConfigEnv+", then the search path)")
	fs.StringVar(&e.root, "root", e.root, "override the configuration's root `DIR`")
	fs.StringVar(&e.prefix, "prefix", e.prefix, "override the configuration's `PREFIX` (a different prefix is a different domain)")
}

func dispatch(e *env, args []string) (int, error) {
	// Global flags may come first.
	fs := flag.NewFlagSet("iox2", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	globalFlags(fs, e)
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	version := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		return exitUsage, usagef("%s (see iox2 --help)", flagErrorText(err, args))
	}
	rest := fs.Args()
	if *version {
		fmt.Fprintf(e.stdout, "iox2 %s\n", iox2.Version)
		return exitOK, nil
	}
	if len(rest) == 0 || rest[0] == "help" {
		if len(rest) > 1 {
			return dispatch(e, append(rest[1:], "--help"))
		}
		printOverview(e.stdout)
		if len(rest) == 0 && !*help {
			return exitUsage, usagef("no command given")
		}
		return exitOK, nil
	}
	// Find the longest command path that the words start with.
	var c *command
	words := 0
	for _, cand := range commands {
		p := strings.Fields(cand.path)
		if len(p) <= len(rest) && equalWords(p, rest[:len(p)]) && len(p) > words {
			c, words = cand, len(p)
		}
	}
	if c == nil {
		// A group name alone ("iox2 node") or with --help: list its commands.
		if group := groupOf(rest[0]); len(group) > 0 {
			printGroup(e.stdout, rest[0], group)
			if len(rest) > 1 && (rest[1] == "--help" || rest[1] == "-h" || rest[1] == "help") {
				return exitOK, nil
			}
			if len(rest) == 1 {
				return exitUsage, usagef("%s: which one? (see above)", rest[0])
			}
			return exitUsage, usagef("unknown command %q (see iox2 %s --help)", strings.Join(rest[:2], " "), rest[0])
		}
		return exitUsage, usagef("unknown command %q (see iox2 --help)", rest[0])
	}
	return runCommand(e, c, rest[words:])
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func groupOf(word string) []*command {
	var out []*command
	for _, c := range commands {
		if p := strings.Fields(c.path); len(p) > 1 && p[0] == word {
			out = append(out, c)
		}
	}
	return out
}

// runCommand parses c's flags, which may be mixed with its positional
// arguments, loads the configuration and runs c.
func runCommand(e *env, c *command, args []string) (int, error) {
	fs := flag.NewFlagSet("iox2 "+c.path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	globalFlags(fs, e)
	help := fs.Bool("help", false, "show this help")
	fs.BoolVar(help, "h", false, "show this help")
	if c.flags != nil {
		c.flags(fs)
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printCommandHelp(e.stdout, c, fs)
				return exitOK, nil
			}
			return exitUsage, usagef("%s: %s (see iox2 %s --help)", c.path, flagErrorText(err, args), c.path)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if *help {
		printCommandHelp(e.stdout, c, fs)
		return exitOK, nil
	}
	if len(pos) < c.minArgs || (c.maxArgs >= 0 && len(pos) > c.maxArgs) {
		return exitUsage, usagef("%s: want %s, got %d argument(s) (see iox2 %s --help)", c.path, argsText(c), len(pos), c.path)
	}
	if err := e.checkGlobalFlags(); err != nil {
		return exitUsage, err
	}
	if !c.noConfig {
		if err := e.loadConfig(); err != nil {
			return exitFailure, err
		}
	}
	err := c.run(e, pos)
	return exitCode(err), err
}

func argsText(c *command) string {
	if c.args == "" {
		return "no arguments"
	}
	return c.args
}

// flagErrorText is the message of err, an error of flag.FlagSet.Parse of
// args, with the flag it names spelled as the user typed it: the flag
// package says "-bogus" when the user typed --bogus.
func flagErrorText(err error, args []string) string {
	msg := err.Error()
	// The forms of the flag package's messages that name a flag: at the
	// end, or after the %q of the value and before ": " and the reason.
	for _, p := range []string{"flag provided but not defined: -", "flag needs an argument: -"} {
		if name, ok := strings.CutPrefix(msg, p); ok {
			return p[:len(p)-1] + typedFlag(name, args)
		}
	}
	for _, p := range []string{"\" for flag -", "\" for -"} {
		i := strings.Index(msg, p)
		if i < 0 || !strings.HasPrefix(msg, "invalid ") {
			continue
		}
		rest := msg[i+len(p):]
		name, reason, ok := strings.Cut(rest, ": ")
		if !ok {
			return msg
		}
		return msg[:i+len(p)-1] + typedFlag(name, args) + ": " + reason
	}
	return msg
}

// typedFlag returns flag name with the dashes the user typed in args: the
// first argument (before a "--") that is -name or --name, alone or with
// "=value"; --name when none is.
func typedFlag(name string, args []string) string {
	for _, a := range args {
		if a == "--" {
			break
		}
		for _, dash := range []string{"--", "-"} {
			if a == dash+name || strings.HasPrefix(a, dash+name+"=") {
				return dash + name
			}
		}
	}
	return "--" + name
}

// checkGlobalFlags rejects a --root or --prefix that no configuration may
// have (a usage error, exit code 2, like every bad flag value), whatever
// the configuration file says and whether or not the command reads it.
func (e *env) checkGlobalFlags() error {
	for _, f := range []struct {
		name, value string
		set         func(c *iox2.Config, v string)
	}{
		{"root", e.root, func(c *iox2.Config, v string) { c.Root = v }},
		{"prefix", e.prefix, func(c *iox2.Config, v string) { c.Prefix = v }},
	} {
		if f.value == "" {
			continue // not given
		}
		c := iox2.DefaultConfig()
		f.set(c, f.value)
		if err := c.Validate(); err != nil {
			msg := strings.TrimPrefix(stripIox2(err.Error()), "config: ")
			return usagef("--%s: %s (see iox2 --help)", f.name, msg)
		}
	}
	return nil
}

// loadConfig resolves the domain: --config, else $IOX2GO_CONFIG and the
// search path (iox2.FindConfig), then --root and --prefix on top.
func (e *env) loadConfig() error {
	var err error
	if e.configPath != "" {
		e.cfg, err = iox2.ConfigFromFile(e.configPath)
		e.cfgSource = e.configPath
	} else {
		e.cfg, e.cfgSource, err = iox2.FindConfig()
	}
	if err != nil {
		return err
	}
	if e.root != "" {
		e.cfg.Root = e.root
	}
	if e.prefix != "" {
		e.cfg.Prefix = e.prefix
	}
	return e.cfg.Validate()
}

func printOverview(w io.Writer) {
	fmt.Fprint(w, `iox2 inspects and talks to the iox2go services and nodes of one domain.

Usage:
  iox2 [--config FILE] [--root DIR] [--prefix PREFIX] [--json] <command> [flags] [arguments]

Commands:
`)
	cs := append([]*command(nil), commands...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].path < cs[j].path })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-18s %s\n", c.path, c.summary)
	}
	fmt.Fprintf(w, `
Global flags (before or after the command):
  --config FILE      the configuration file (default: $%s, then %s)
  --root DIR         override the configuration's root directory
  --prefix PREFIX    override the configuration's prefix: another domain
  --json             machine-readable output
  --help, -h         help for iox2 or for a command
  --version          print the version

Exit codes: 0 done, 1 failed, 2 wrong usage, 3 no such node or service,
4 timed out before anything arrived.
Run 'iox2 <command> --help' for one command; docs/CLI.md has them all.
`, iox2.ConfigEnv, strings.Join(iox2.ConfigSearchPaths(), ", "))
}

func printGroup(w io.Writer, name string, cs []*command) {
	fmt.Fprintf(w, "Commands of iox2 %s:\n", name)
	for _, c := range cs {
		fmt.Fprintf(w, "  %-18s %s\n", c.path, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'iox2 %s <command> --help' for one of them.\n", name)
}

func printCommandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: iox2 %s [flags]", c.path)
	if c.args != "" {
		fmt.Fprintf(w, " %s", c.args)
	}
	fmt.Fprintf(w, "\n\n%s\n", c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	fmt.Fprintf(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
