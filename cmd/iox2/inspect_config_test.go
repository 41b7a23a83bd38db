package main

// End-to-end tests of config show, generate and explain, and of choosing
// the domain with a configuration file.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

func TestInspectConfigExplain(t *testing.T) {
	var out struct {
		Num  int `json:"num"`
		Keys []struct {
			Key         string `json:"key"`
			Type        string `json:"type"`
			Default     string `json:"default"`
			Description string `json:"description"`
		} `json:"keys"`
	}
	inspectJSON(t, nil, &out, "config", "explain")
	keys := iox2.ConfigKeys()
	if out.Num != len(keys) || len(out.Keys) != len(keys) {
		t.Fatalf("config explain --json: %d keys, want %d", out.Num, len(keys))
	}
	for i, k := range keys {
		if o := out.Keys[i]; o.Key != k.Key || o.Type != k.Type || o.Default != k.Default || o.Description != k.Description {
			t.Errorf("config explain --json: key %d is %+v, want %+v", i, o, k)
		}
	}
	text := inspectOK(t, nil, "config", "explain")
	for _, k := range keys {
		if !strings.Contains(text, k.Key+" ("+k.Type+", default "+k.Default+")\n    "+k.Description+"\n") {
			t.Errorf("config explain does not describe %s:\n%s", k.Key, text)
		}
	}
}

func TestInspectConfigShowAndGenerate(t *testing.T) {
	dir := t.TempDir()
	defaults, err := iox2.DefaultConfig().MarshalTOML()
	if err != nil {
		t.Fatal(err)
	}
	if got := inspectOK(t, nil, "config", "show", "defaults"); got != "# configuration: built-in defaults\n"+string(defaults) {
		t.Errorf("config show defaults:\n%s", got)
	}
	if got := inspectOK(t, nil, "config", "show"); got != "# configuration: built-in defaults (no configuration file found)\n"+string(defaults) {
		t.Errorf("config show without a file:\n%s", got)
	}

	// generate --output, then refuse to overwrite without --force.
	file := filepath.Join(dir, "sub", "dir", "iox2go.toml")
	if got := inspectOK(t, nil, "config", "generate", "--output", file); got != "wrote "+file+"\n" {
		t.Errorf("config generate --output: %q", got)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != string(defaults) {
		t.Fatalf("generated file: %v\n%s", err, b)
	}
	if _, err := iox2.ConfigFromFile(file); err != nil {
		t.Errorf("the generated file does not read back: %v", err)
	}
	os.WriteFile(file, []byte("# mine\n"), 0o644)
	r := inspectRun(t, nil, "config", "generate", "--output", file)
	if r.code != exitFailure || !strings.Contains(r.stderr, file) || !strings.Contains(r.stderr, "--force") {
		t.Errorf("config generate over an existing file: %v", r)
	}
	if b, _ := os.ReadFile(file); string(b) != "# mine\n" {
		t.Errorf("config generate without --force changed the file")
	}
	var gen struct {
		Path string `json:"path"`
	}
	inspectJSON(t, nil, &gen, "config", "generate", "--output", file, "--force")
	if b, _ := os.ReadFile(file); gen.Path != file || string(b) != string(defaults) {
		t.Errorf("config generate --force: %+v", gen)
	}

	// local writes the user's file, where FindConfig looks.
	home := t.TempDir()
	r = inspectRunEnv(t, []string{"XDG_CONFIG_HOME=" + home}, nil, "config", "generate", "local")
	local := filepath.Join(home, "iox2go", "iox2go.toml")
	if r.code != 0 || r.stdout != "wrote "+local+"\n" {
		t.Errorf("config generate local: %v", r)
	}
	r = inspectRunEnv(t, []string{"XDG_CONFIG_HOME=" + home}, nil, "config", "show")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "# configuration from "+local+"\n") {
		t.Errorf("config show with the local file: %v", r)
	}

	// A file of one's own: --config, $IOX2GO_CONFIG, and --prefix on top.
	mine := filepath.Join(dir, "mine.toml")
	os.WriteFile(mine, []byte("[global]\nprefix = \"mine_\"\n"), 0o644)
	out := inspectOK(t, nil, "--config", mine, "config", "show", "current", "--prefix", "other_")
	if !strings.HasPrefix(out, "# configuration from "+mine+", with --prefix other_\n") || !strings.Contains(out, `prefix = "other_"`) {
		t.Errorf("config show --config --prefix:\n%s", out)
	}
	var shown struct {
		Source string `json:"source"`
		TOML   string `json:"toml"`
	}
	r = inspectRunEnv(t, []string{"IOX2GO_CONFIG=" + mine}, nil, "config", "show", "--json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &shown) != nil || shown.Source != mine || !strings.Contains(shown.TOML, `prefix = "mine_"`) {
		t.Errorf("config show with $IOX2GO_CONFIG: %v", r)
	}

	// Usage errors.
	for _, args := range [][]string{
		{"config", "show", "system"},
		{"config", "generate", "somewhere"},
		{"config", "generate", "local", "--output", file},
		{"config", "explain", "x"},
	} {
		if r := inspectRun(t, nil, args...); r.code != exitUsage {
			t.Errorf("want exit code 2: %v", r)
		}
	}

	// An invalid file fails the commands that need a configuration, but
	// not generate, explain or show defaults.
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[global]\nno-such-key = 1\n"), 0o644)
	if r := inspectRun(t, nil, "--config", bad, "node", "list"); r.code != exitFailure || !strings.Contains(r.stderr, bad) {
		t.Errorf("node list with an invalid file: %v", r)
	}
	if r := inspectRun(t, nil, "--config", bad, "config", "show"); r.code != exitFailure || !strings.Contains(r.stderr, "no-such-key") {
		t.Errorf("config show with an invalid file: %v", r)
	}
	inspectOK(t, nil, "--config", bad, "config", "show", "defaults")
	inspectOK(t, nil, "--config", bad, "config", "explain")
	inspectOK(t, nil, "--config", bad, "config", "generate", "--output", bad, "--force")
	if _, err := iox2.ConfigFromFile(bad); err != nil {
		t.Errorf("config generate --force did not repair the file: %v", err)
	}
}

// TestInspectConfigFileDomain checks that a configuration file chooses the
// domain that node list and service list look at.
func TestInspectConfigFileDomain(t *testing.T) {
	cfg := iox2test.Config(t)
	p := startInspectPeer(t, cfg, "filed", "alarm-listener")
	file := filepath.Join(t.TempDir(), "domain.toml")
	toml := "[global]\nroot-path = " + strconvQuote(cfg.Root) + "\nprefix = " + strconvQuote(cfg.Prefix) + "\n"
	if err := os.WriteFile(file, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	var nl inspectNodesOut
	inspectJSON(t, nil, &nl, "--config", file, "node", "list")
	if nl.Num != 1 || nl.Nodes[0].ID != p.id {
		t.Errorf("node list --config: %+v", nl)
	}
	r := inspectRunEnv(t, []string{"IOX2GO_CONFIG=" + file}, nil, "service", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "robot/alarm") {
		t.Errorf("service list with $IOX2GO_CONFIG: %v", r)
	}
	// Without the file, the default domain: not this one.
	if out := inspectOK(t, nil, "node", "list", "--json"); strings.Contains(out, p.id) {
		t.Errorf("node list without --config shows the test's node:\n%s", out)
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
