package main

// iox2 config show, generate and explain: the configuration file of
// runtime/configfile.go, as TOML.

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// globalConfigPath is where config generate global writes: the last
// place that iox2.FindConfig looks.
const globalConfigPath = "/etc/iox2go/iox2go.toml"

func init() {
	register(&command{
		path:    "config show",
		args:    "[current|defaults]",
		summary: "print the effective configuration (or the defaults) as TOML",
		help: `current (the default) prints the configuration that iox2 and every node
started the same way use: the file given with --config, else the one that
$IOX2GO_CONFIG names, else the first file of the search path that exists,
else the built-in defaults; --root and --prefix apply on top. A comment at
the top says where it came from. An invalid configuration file is an error
(exit code 1) as for every other command. defaults prints the built-in
defaults and reads no file.

The output is a valid configuration file. With --json: {"source": FILE or
"" for the built-in defaults, "toml": TEXT}.`,
		maxArgs:  1,
		noConfig: true,
		run: func(e *env, args []string) error {
			which := "current"
			if len(args) > 0 {
				which = args[0]
			}
			return configShow(e, which)
		},
	})
	var force bool
	var output string
	register(&command{
		path:    "config generate",
		args:    "[local|global]",
		summary: "write the default configuration to a TOML file",
		help: `Writes the built-in defaults, every key with its description, as a TOML
file that the runtime finds: local (the default) writes the user's file,
$XDG_CONFIG_HOME/iox2go/iox2go.toml (~/.config/iox2go/iox2go.toml),
global writes ` + globalConfigPath + `; --output writes FILE instead. The
directory is created. An existing file is kept unless --force is given.
Prints the path written (with --json: {"path": FILE}).`,
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&force, "force", false, "overwrite an existing file")
			fs.StringVar(&output, "output", "", "write to `FILE` instead of the local or global location")
		},
		maxArgs:  1,
		noConfig: true,
		run: func(e *env, args []string) error {
			return configGenerate(e, args, force, output)
		},
	})
	register(&command{
		path:    "config explain",
		summary: "describe every configuration key: type, default, meaning",
		help: `Lists every key of the configuration file (dotted: global.prefix is key
prefix in table [global]) with its type, its default as a TOML value and
what it does. With --json: {"num": N, "keys": [{"key", "type", "default",
"description"}]}.`,
		maxArgs:  0,
		noConfig: true,
		run: func(e *env, args []string) error {
			return configExplain(e)
		},
	})
}

func configShow(e *env, which string) error {
	var cfg *iox2.Config
	var source, comment string
	switch which {
	case "current":
		if err := e.loadConfig(); err != nil {
			return err
		}
		cfg, source = e.cfg, e.cfgSource
		comment = "# configuration from " + source
		if source == "" {
			comment = "# configuration: built-in defaults (no configuration file found)"
		}
		var over []string
		if e.root != "" {
			over = append(over, "--root "+e.root)
		}
		if e.prefix != "" {
			over = append(over, "--prefix "+e.prefix)
		}
		if len(over) > 0 {
			comment += ", with " + strings.Join(over, " and ")
		}
	case "defaults":
		cfg, comment = iox2.DefaultConfig(), "# configuration: built-in defaults"
	default:
		return usagef("config show: want current or defaults, got %q", which)
	}
	b, err := cfg.MarshalTOML()
	if err != nil {
		return fmt.Errorf("config show: %w", err)
	}
	text := comment + "\n" + string(b)
	if e.json {
		return printJSON(e.stdout, struct {
			Source string `json:"source"`
			TOML   string `json:"toml"`
		}{source, text})
	}
	_, err = fmt.Fprint(e.stdout, text)
	return err
}

// localConfigPath is where config generate local writes: the user's file
// of iox2.ConfigSearchPaths.
func localConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("config generate local: %w", err)
	}
	return filepath.Join(dir, "iox2go", "iox2go.toml"), nil
}

func configGenerate(e *env, args []string, force bool, output string) error {
	path := output
	switch {
	case len(args) > 0 && output != "":
		return usagef("config generate: give %s or --output, not both", args[0])
	case output != "":
	case len(args) == 0 || args[0] == "local":
		p, err := localConfigPath()
		if err != nil {
			return err
		}
		path = p
	case args[0] == "global":
		path = globalConfigPath
	default:
		return usagef("config generate: want local or global, got %q", args[0])
	}
	b, err := iox2.DefaultConfig().MarshalTOML()
	if err != nil {
		return fmt.Errorf("config generate: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("config generate: %w", err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("config generate: %s exists; --force overwrites it", path)
	}
	if err != nil {
		return fmt.Errorf("config generate: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("config generate: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("config generate: writing %s: %w", path, err)
	}
	if e.json {
		return printJSON(e.stdout, struct {
			Path string `json:"path"`
		}{path})
	}
	_, err = fmt.Fprintf(e.stdout, "wrote %s\n", path)
	return err
}

type configKeyJSON struct {
	Key         string `json:"key"`
	Type        string `json:"type"`
	Default     string `json:"default"`
	Description string `json:"description"`
}

func configExplain(e *env) error {
	keys := iox2.ConfigKeys()
	out := make([]configKeyJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, configKeyJSON{k.Key, k.Type, k.Default, k.Description})
	}
	if e.json {
		return printJSON(e.stdout, struct {
			Num  int             `json:"num"`
			Keys []configKeyJSON `json:"keys"`
		}{len(out), out})
	}
	for i, k := range out {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "%s (%s, default %s)\n", k.Key, k.Type, k.Default)
		fmt.Fprintf(e.stdout, "    %s\n", k.Description)
	}
	return nil
}
