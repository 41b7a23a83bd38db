package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeConfigFile writes a configuration file into a temporary directory
// of t and returns its path.
func writeConfigFile(t *testing.T, dir, text string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "iox2go.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fileForConfig writes the global domain settings of cfg as a partial file.
func fileForConfig(t *testing.T, cfg *Config) string {
	t.Helper()
	return writeConfigFile(t, "", "[global]\nroot-path = "+tomlQuote(cfg.Root)+"\nprefix = "+tomlQuote(cfg.Prefix)+"\n")
}

func cmpConfig(t *testing.T, got, want *Config) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("config differs (-want +got):\n%s", d)
	}
}

func eventID(n uint64) *EventID { id := EventID(n); return &id }

func TestConfigRoundTrip(t *testing.T) {
	def := DefaultConfig()
	odd := DefaultConfig()
	odd.Root = `/tmp/with "quotes" \ and ünïcode	tab`
	odd.ShmDir = "/run/shm"
	odd.Prefix = "dom-1.x_"
	odd.FileMode = 0o660
	odd.CreationTimeout = time.Hour + 2*time.Minute + 3*time.Second + 4
	odd.DiscoveryInterval = 15500 * time.Microsecond
	odd.LivenessSweepInterval = 1500 * time.Millisecond
	odd.PortMemoryLimit = 3<<30 + 5
	odd.CleanupDeadNodesOnCreation = false
	odd.CleanupDeadNodesOnDestruction = false
	odd.CleanupDeadNodesOnOpen = false
	ps := &odd.Defaults.PublishSubscribe
	ps.MaxSubscribers, ps.MaxPublishers, ps.MaxNodes = 65536, 3, 4
	ps.SubscriberMaxBufferSize, ps.SubscriberMaxBorrowedSamples, ps.PublisherMaxLoanedSamples = 7, 6, 5
	ps.HistorySize, ps.EnableSafeOverflow = 7, false
	ev := &odd.Defaults.Event
	ev.MaxListeners, ev.MaxNotifiers, ev.MaxNodes, ev.EventIDMaxValue = 1, 2, 3, 65535
	ev.Deadline = 250 * time.Millisecond
	ev.NotifierCreatedEvent, ev.NotifierDroppedEvent, ev.NotifierDeadEvent = eventID(0), eventID(65535), eventID(7)
	rr := &odd.Defaults.RequestResponse
	rr.EnableSafeOverflowForRequests, rr.EnableSafeOverflowForResponses, rr.EnableFireAndForgetRequests = false, false, false
	rr.MaxActiveRequestsPerClient, rr.MaxResponseBufferSize, rr.MaxServers, rr.MaxClients, rr.MaxNodes = 3, 4, 5, 6, 7
	rr.MaxBorrowedResponsesPerPendingResponse, rr.MaxLoanedRequests, rr.ServerMaxLoanedResponsesPerRequest = 8, 9, 10
	rr.ClientBackpressure, rr.ServerBackpressure = DiscardData, DiscardData
	oneID := DefaultConfig()
	oneID.Defaults.Event.NotifierDeadEvent = eventID(3)

	for name, cfg := range map[string]*Config{"default": def, "non-default": odd, "one event id": oneID} {
		t.Run(name, func(t *testing.T) {
			text, err := cfg.MarshalTOML()
			if err != nil {
				t.Fatal(err)
			}
			path := writeConfigFile(t, "", string(text))
			got, err := ConfigFromFile(path)
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			cmpConfig(t, got, cfg)
		})
	}

	t.Run("document", func(t *testing.T) {
		text, _ := def.MarshalTOML()
		for _, want := range []string{"[global]\n", "[global.node]\n", "[global.service]\n", "[defaults.publish-subscribe]\n",
			"[defaults.event]\n", "[defaults.request-response]\n", "\nfile-mode = 0o600\n", "\ncreation-timeout = \"500ms\"\n",
			"\n# notifier-created-event = 0\n", "\nclient-backpressure-strategy = \"RetryUntilDelivered\"\n"} {
			if !strings.Contains(string(text), want) {
				t.Errorf("document lacks %q:\n%s", want, text)
			}
		}
	})

	t.Run("unrepresentable", func(t *testing.T) {
		bad := DefaultConfig()
		bad.Defaults.RequestResponse.ServerBackpressure = Backpressure(9)
		if _, err := bad.MarshalTOML(); err == nil || !strings.Contains(err.Error(), "server-backpressure-strategy") {
			t.Errorf("got %v, want an error about server-backpressure-strategy", err)
		}
	})
}

func TestConfigPartialFile(t *testing.T) {
	path := writeConfigFile(t, "", `# only a few keys
[global]
prefix = "part_"
file-mode = "0640"

[defaults.event]
notifier-dead-event = 9
`)
	got, err := ConfigFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Prefix = "part_"
	want.FileMode = 0o640
	want.Defaults.Event.NotifierDeadEvent = eventID(9)
	cmpConfig(t, got, want)
}

func TestConfigOtherTOMLForms(t *testing.T) {
	// Inline tables, dotted keys and integers in any base are TOML too.
	got, err := configFromBytes("f.toml", []byte(`
global = { prefix = "inl_", node = { cleanup-dead-nodes-on-creation = false } }
defaults.event.max-listeners = 0x10
defaults.publish-subscribe = { max-nodes = 1_000 }
[defaults.request-response]
max-servers = 0b11
`))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Prefix = "inl_"
	want.CleanupDeadNodesOnCreation = false
	want.Defaults.Event.MaxListeners = 16
	want.Defaults.PublishSubscribe.MaxNodes = 1000
	want.Defaults.RequestResponse.MaxServers = 3
	cmpConfig(t, got, want)

	// A byte order mark and CRLF line ends are fine too.
	got, err = configFromBytes("f.toml", []byte("\ufeff[global]\r\nprefix = \"bom_\"\r\n"))
	if err != nil || got.Prefix != "bom_" {
		t.Errorf("with a BOM and CRLF: %v, %v", got, err)
	}
	_, err = configFromBytes("f.toml", []byte("\ufeffprefix = 1\r\n"))
	if want := `f.toml:1:1: key "prefix": unknown key`; err == nil || err.Error() != want {
		t.Errorf("with a BOM: got %v, want %s", err, want)
	}
}

func TestConfigFileErrors(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"syntax", "[global]\nprefix = \n",
			`f.toml:2:10: key "global.prefix": unexpected character U+000A at start of value`},
		{"syntax unterminated string", "[global]\nroot-path = \"/tmp\n",
			`f.toml:2:18: key "global.root-path": basic strings cannot have new lines`},
		{"syntax leading zero", "[global]\nfile-mode = 0600\n",
			`f.toml:2:13: key "global.file-mode": integers cannot have leading zeroes`},
		{"duplicate key", "[global]\nprefix = \"a\"\nprefix = \"b\"\n",
			`f.toml:3:1: key "global.prefix": key prefix is already defined`},
		{"duplicate table", "[global]\n[global]\n",
			`f.toml:2:2: key "global": table global already exists`},
		{"unknown top-level table", "[globl]\nprefix = \"x\"\n",
			`f.toml:1:2: key "globl": unknown key; did you mean "global"?`},
		{"unknown top-level key", "prefix = \"x\"\n",
			`f.toml:1:1: key "prefix": unknown key`},
		{"unknown nested key", "[global.node]\ncleanup-dead-nodes-on-create = true\n",
			`f.toml:2:1: key "global.node.cleanup-dead-nodes-on-create": unknown key`},
		{"unknown in inline table", "global = { prefx = \"a\" }\n",
			`f.toml:1:12: key "global.prefx": unknown key; did you mean "prefix"?`},
		{"quoted dotted key", "\"global.prefix\" = \"x\"\n",
			`f.toml:1:1: key "\"global.prefix\"": unknown key`},
		{"wrong type", "[global]\nprefix = 5\n",
			`f.toml:2:10: key "global.prefix": wants a string, found integer`},
		{"wrong type bool", "[global.service]\ncleanup-dead-nodes-on-open = \"yes\"\n",
			`f.toml:2:30: key "global.service.cleanup-dead-nodes-on-open": wants a boolean, found string`},
		{"float for integer", "[defaults.event]\nmax-nodes = 1.5\n",
			`f.toml:2:13: key "defaults.event.max-nodes": wants an integer, found float`},
		{"table wanted", "global = 1\n",
			`f.toml:1:10: key "global": wants a table, found integer`},
		{"array of tables", "[[global]]\n",
			`f.toml:1:3: key "global": wants a table, found array`},
		{"table for a value", "[global.prefix]\n",
			`f.toml:1:9: key "global.prefix": wants a string, found table`},
		{"out of range low", "[defaults.publish-subscribe]\nmax-subscribers = 0\n",
			`f.toml:2:19: key "defaults.publish-subscribe.max-subscribers": max subscribers is 0, must be in [1, 65536]`},
		{"out of range high", "[defaults.publish-subscribe]\nmax-subscribers = 65537\n",
			`f.toml:2:19: key "defaults.publish-subscribe.max-subscribers": max subscribers is 65537, must be in [1, 65536]`},
		{"out of range among valid keys", "[defaults.request-response]\nmax-servers = 3\nmax-clients = -1\nmax-nodes = 5\n",
			`f.toml:3:15: key "defaults.request-response.max-clients": max clients is -1, must be in [1, 65536]`},
		{"relative root", "[global]\nroot-path = \"tmp/x\"\n",
			`f.toml:2:13: key "global.root-path": root "tmp/x" must be an absolute path`},
		{"bad prefix", "[global]\nprefix = \"a/b\"\n",
			`f.toml:2:10: key "global.prefix": prefix "a/b" may only contain letters, digits, '_', '-' and '.'`},
		{"empty prefix", "[global]\nprefix = \"\"\n",
			`f.toml:2:10: key "global.prefix": prefix must not be empty: it starts the name of every file of the domain`},
		{"event id beyond max", "[defaults.event]\nevent-id-max-value = 10\nnotifier-dead-event = 11\n",
			`f.toml:3:23: key "defaults.event.notifier-dead-event": notifier dead event 11 exceeds the event id max value 10`},
		{"negative event id", "[defaults.event]\nnotifier-created-event = -1\n",
			`f.toml:2:26: key "defaults.event.notifier-created-event": event id -1 is negative`},
		{"history beyond buffer", "[defaults.publish-subscribe]\nenable-safe-overflow = false\npublisher-history-size = 3\n",
			`f.toml:3:26: key "defaults.publish-subscribe.publisher-history-size": without safe overflow the subscriber max buffer size (2) must be at least the history size (3)`},
		{"bad duration", "[global]\ncreation-timeout = \"5 s\"\n",
			`f.toml:2:20: key "global.creation-timeout": invalid duration "5 s": wants a number with a unit such as "500ms", "2s" or "1m30s"`},
		{"duration as integer", "[global]\ndiscovery-interval = 50\n",
			`f.toml:2:22: key "global.discovery-interval": wants a duration string such as "500ms", found integer`},
		{"zero duration", "[global]\ndiscovery-interval = \"0s\"\n",
			`f.toml:2:22: key "global.discovery-interval": discovery interval is 0s, must be at least 10ms (deprecated, without effect)`},
		{"tiny discovery interval", "[global]\ndiscovery-interval = \"1ns\"\n",
			`f.toml:2:22: key "global.discovery-interval": discovery interval is 1ns, must be at least 10ms (deprecated, without effect)`},
		{"tiny creation timeout", "[global]\ncreation-timeout = \"999us\"\n",
			`f.toml:2:20: key "global.creation-timeout": creation timeout is 999µs, must be at least 1ms`},
		{"tiny deadline", "[defaults.event]\ndeadline = \"1ns\"\n",
			`f.toml:2:12: key "defaults.event.deadline": deadline is 1ns, must be at least 1ms (or 0 for none)`},
		{"negative deadline", "[defaults.event]\ndeadline = \"-1s\"\n",
			`f.toml:2:12: key "defaults.event.deadline": deadline is -1s, must be positive (or 0 for none)`},
		{"bad backpressure", "[defaults.request-response]\nclient-backpressure-strategy = \"Block\"\n",
			`f.toml:2:32: key "defaults.request-response.client-backpressure-strategy": unknown backpressure strategy "Block": wants "RetryUntilDelivered" or "DiscardData"`},
		{"backpressure as integer", "[defaults.request-response]\nserver-backpressure-strategy = 1\n",
			`f.toml:2:32: key "defaults.request-response.server-backpressure-strategy": wants "RetryUntilDelivered" or "DiscardData", found integer`},
		{"bad octal string", "[global]\nfile-mode = \"0689\"\n",
			`f.toml:2:13: key "global.file-mode": invalid file mode "0689": wants octal digits such as "0600"`},
		{"decimal mode", "[global]\nfile-mode = 600\n",
			`f.toml:2:13: key "global.file-mode": file mode 600 (0o1130) holds more than permission bits: write it in octal, such as 0o600 or "0600"`},
		{"mode without owner rw", "[global]\nfile-mode = 0o440\n",
			`f.toml:2:13: key "global.file-mode": file mode 0440 must include owner read and write and hold only permission bits`},
		{"port memory limit below 1 MiB", "[global]\nport-memory-limit = 1000\n",
			`f.toml:2:21: key "global.port-memory-limit": port memory limit is 1000 bytes, must be at least 1048576 (1 MiB)`},
		{"defaults beyond a chunk index", "[defaults.publish-subscribe]\nmax-subscribers = 65536\nsubscriber-max-buffer-size = 65536\nsubscriber-max-borrowed-samples = 65536\n",
			`f.toml:4:35: key "defaults.publish-subscribe.subscriber-max-borrowed-samples": a publisher needs max subscribers 65536 × (subscriber max buffer size 65536 + subscriber max borrowed samples 65536) + history size 0 + max loaned samples 2 = 8589934594 chunks; a chunk index addresses at most 16777215`},
		{"request-response defaults beyond a chunk index", "[defaults.request-response]\nmax-active-requests-per-client = 65536\nmax-response-buffer-size = 65536\n",
			`f.toml:3:28: key "defaults.request-response.max-response-buffer-size": a server needs max clients 8 × max active requests per client 65536 × (max response buffer size 65536 + max borrowed responses per pending response 2 + max loaned responses per request 2) = 34361835520 chunks; a chunk index addresses at most 16777215`},
		{"world-writable mode", "[global]\nfile-mode = 0o777\n",
			`f.toml:2:13: key "global.file-mode": file mode 0777 gives permissions to every user (world bits 07): use 0600, or 0660 to share with a group`},
		{"world-readable mode", "[global]\nfile-mode = \"0604\"\n",
			`f.toml:2:13: key "global.file-mode": file mode 0604 gives permissions to every user (world bits 04): use 0600, or 0660 to share with a group`},
		{"mode as bool", "[global]\nfile-mode = true\n",
			`f.toml:2:13: key "global.file-mode": wants a file mode such as 0o600 or "0600", found boolean`},
		{"several errors in file order", "[global]\nprefx = 1\nprefix = 2\n[defaults.event]\nmax-listenrs = 3\n",
			"f.toml:2:1: key \"global.prefx\": unknown key; did you mean \"prefix\"?\n" +
				"f.toml:3:10: key \"global.prefix\": wants a string, found integer\n" +
				"f.toml:5:1: key \"defaults.event.max-listenrs\": unknown key; did you mean \"max-listeners\"?"},
		{"snake case", "[defaults.publish-subscribe]\nmax_subscribers = 3\n",
			`f.toml:2:1: key "defaults.publish-subscribe.max_subscribers": unknown key; did you mean "max-subscribers"?`},
		{"iceoryx2 key", "[global.node]\ndirectory = \"nodes\"\n",
			`f.toml:2:1: key "global.node.directory": unknown key`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := configFromBytes("f.toml", []byte(c.text))
			if cfg != nil {
				t.Errorf("got a config with the error")
			}
			if err == nil {
				t.Fatalf("no error, want %s", c.want)
			}
			if err.Error() != c.want {
				t.Errorf("got  %s\nwant %s", err, c.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("errors.Is(%v, ErrInvalidConfig) is false", err)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Line == 0 || ce.Key == "" {
				t.Errorf("errors.As(*ConfigError) = %+v, want one with a line and a key", ce)
			}
		})
	}

	t.Run("many errors", func(t *testing.T) {
		var b strings.Builder
		for i := range 1000 {
			fmt.Fprintf(&b, "k%d = %d\n", i, i)
		}
		_, err := configFromBytes("f.toml", []byte(b.String()))
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != 21 || lines[0] != `f.toml:1:1: key "k0": unknown key` || lines[20] != "f.toml: and 980 more errors" {
			t.Errorf("got %d lines: %q ... %q", len(lines), lines[0], lines[len(lines)-1])
		}
	})
	t.Run("too large", func(t *testing.T) {
		path := writeConfigFile(t, "", strings.Repeat("# a comment\n", 6000))
		_, err := ConfigFromFile(path)
		if want := path + ": the file is larger than 65536 bytes: not a configuration file"; err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
		// Reading stops at the limit: an endless file is refused too.
		if _, err := ConfigFromFile("/dev/zero"); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("/dev/zero: got %v", err)
		}
	})
	t.Run("through a file", func(t *testing.T) {
		path := writeConfigFile(t, "", "[global]\nprefix = 5\n")
		_, err := ConfigFromFile(path)
		if want := path + `:2:10: key "global.prefix": wants a string, found integer`; err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "none.toml")
		_, err := ConfigFromFile(path)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("got %v, want a not-exist error naming %s", err, path)
		}
	})
}

func TestConfigKeysCoverEveryField(t *testing.T) {
	// Every field of Config (and of its QoS defaults) but InProcess has a
	// key, and no two keys share a field.
	cfg := DefaultConfig()
	var fields []string
	var leaves func(v reflect.Value, name string)
	leaves = func(v reflect.Value, name string) {
		if v.Kind() == reflect.Struct {
			for i := range v.NumField() {
				leaves(v.Field(i), name+"."+v.Type().Field(i).Name)
			}
			return
		}
		if name != ".InProcess" {
			fields = append(fields, name)
		}
	}
	leaves(reflect.ValueOf(cfg).Elem(), "")
	addrs := map[uintptr]string{}
	for _, d := range configKeyTable {
		a := reflect.ValueOf(d.field(cfg)).Pointer()
		if other, ok := addrs[a]; ok {
			t.Errorf("keys %s and %s set the same field", other, d.key)
		}
		addrs[a] = d.key
	}
	if len(addrs) != len(fields) {
		t.Errorf("%d keys for %d fields %v", len(addrs), len(fields), fields)
	}
	var lookup func(v reflect.Value, name string)
	lookup = func(v reflect.Value, name string) {
		if v.Kind() == reflect.Struct {
			for i := range v.NumField() {
				lookup(v.Field(i), name+"."+v.Type().Field(i).Name)
			}
			return
		}
		if _, ok := addrs[v.Addr().Pointer()]; !ok && name != ".InProcess" {
			t.Errorf("field %s has no key", name)
		}
	}
	lookup(reflect.ValueOf(cfg).Elem(), "")
}

func TestConfigKeys(t *testing.T) {
	keys := ConfigKeys()
	if len(keys) != len(configKeyTable) {
		t.Fatalf("%d keys, want %d", len(keys), len(configKeyTable))
	}
	// Each table in one run, its own keys before its sub-tables (else the
	// written document would put keys in the wrong table).
	seen := map[string]bool{}
	prev := ""
	for _, k := range keys {
		table := k.Key[:strings.LastIndexByte(k.Key, '.')]
		if table != prev {
			if seen[table] {
				t.Errorf("table %s comes back at %s", table, k.Key)
			}
			if prev != "" && strings.HasPrefix(prev, table+".") {
				t.Errorf("key %s comes after sub-table %s", k.Key, prev)
			}
			seen[table], prev = true, table
		}
		if k.Type == "" || k.Default == "" || k.Description == "" {
			t.Errorf("incomplete %+v", k)
		}
	}
	want := map[string]ConfigKey{
		"global.file-mode":                                       {"global.file-mode", "file mode", "0o600", ""},
		"global.creation-timeout":                                {"global.creation-timeout", "duration", `"500ms"`, ""},
		"defaults.event.notifier-created-event":                  {"defaults.event.notifier-created-event", "event id", "none", ""},
		"defaults.request-response.client-backpressure-strategy": {"defaults.request-response.client-backpressure-strategy", "backpressure", `"RetryUntilDelivered"`, ""},
		"global.node.cleanup-dead-nodes-on-creation":             {"global.node.cleanup-dead-nodes-on-creation", "boolean", "true", ""},
	}
	for _, k := range keys {
		if w, ok := want[k.Key]; ok {
			k.Description = ""
			if k != w {
				t.Errorf("got %+v, want %+v", k, w)
			}
		}
	}
}

// configKeysMarkdown is the key table of docs/CONFIG.md.
func configKeysMarkdown() string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Meaning |\n|---|---|---|---|\n")
	for _, k := range ConfigKeys() {
		b.WriteString("| `" + k.Key + "` | " + k.Type + " | `" + k.Default + "` | " + strings.ReplaceAll(k.Description, "|", `\|`) + " |\n")
	}
	return b.String()
}

// TestConfigDocIsCurrent checks that docs/CONFIG.md holds the table of
// ConfigKeys. IOX2GO_UPDATE_CONFIG_DOC=1 rewrites it.
func TestConfigDocIsCurrent(t *testing.T) {
	const path = "../docs/CONFIG.md"
	const begin, end = "<!-- BEGIN KEYS (generated by runtime's TestConfigDocIsCurrent) -->\n", "<!-- END KEYS -->\n"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %q and %q", path, begin, end)
	}
	want := configKeysMarkdown()
	if got := doc[i+len(begin) : j]; got != want {
		if os.Getenv("IOX2GO_UPDATE_CONFIG_DOC") == "1" {
			if err := os.WriteFile(path, []byte(doc[:i+len(begin)]+want+doc[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("the key table of %s is stale (IOX2GO_UPDATE_CONFIG_DOC=1 go test -run TestConfigDocIsCurrent ./runtime/ rewrites it); want:\n%s", path, want)
	}
}

// isolateConfigSearch points every place FindConfig looks at empty
// temporary directories: $IOX2GO_CONFIG unset, the working directory,
// $HOME and $XDG_CONFIG_HOME. It returns the working and home directories.
func isolateConfigSearch(t *testing.T) (wd, home string) {
	t.Helper()
	wd, home = t.TempDir(), t.TempDir()
	t.Setenv(ConfigEnv, "")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Chdir(wd)
	return wd, home
}

func TestFindConfig(t *testing.T) {
	wd, home := isolateConfigSearch(t)
	wdFile := filepath.Join(wd, "config", "iox2go.toml")
	homeFile := filepath.Join(home, ".config", "iox2go", "iox2go.toml")
	if got, want := ConfigSearchPaths(), []string{wdFile, homeFile, "/etc/iox2go/iox2go.toml"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ConfigSearchPaths() = %q, want %q", got, want)
	}
	find := func(wantPrefix, wantPath string) {
		t.Helper()
		cfg, path, err := FindConfig()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Prefix != wantPrefix || path != wantPath {
			t.Errorf("FindConfig() = prefix %q from %q, want %q from %q", cfg.Prefix, path, wantPrefix, wantPath)
		}
	}
	if _, err := os.Stat("/etc/iox2go/iox2go.toml"); err == nil {
		t.Log("/etc/iox2go/iox2go.toml exists: not checking the defaults")
	} else {
		find(DefaultConfig().Prefix, "")
	}

	writeConfigFile(t, filepath.Dir(homeFile), "[global]\nprefix = \"home_\"\n")
	find("home_", homeFile)

	writeConfigFile(t, filepath.Dir(wdFile), "[global]\nprefix = \"wd_\"\n")
	find("wd_", wdFile)

	envFile := writeConfigFile(t, "", "[global]\nprefix = \"env_\"\n")
	t.Setenv(ConfigEnv, envFile)
	find("env_", envFile)

	// $XDG_CONFIG_HOME moves the user's file.
	t.Setenv(ConfigEnv, "")
	os.Remove(wdFile)
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	xdgFile := writeConfigFile(t, filepath.Join(xdg, "iox2go"), "[global]\nprefix = \"xdg_\"\n")
	find("xdg_", xdgFile)
	t.Setenv("XDG_CONFIG_HOME", "")
	find("home_", homeFile)

	t.Run("env names a missing file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing.toml")
		t.Setenv(ConfigEnv, missing)
		cfg, path, err := FindConfig()
		if cfg != nil || path != missing || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "$"+ConfigEnv) {
			t.Errorf("FindConfig() = %v, %q, %v; want an error about $%s", cfg, path, err, ConfigEnv)
		}
	})
	t.Run("invalid file is an error, not a fallback", func(t *testing.T) {
		writeConfigFile(t, filepath.Dir(wdFile), "[global]\nprefix = 1\n")
		cfg, path, err := FindConfig()
		want := wdFile + `:2:10: key "global.prefix": wants a string, found integer`
		if cfg != nil || path != wdFile || err == nil || err.Error() != want {
			t.Errorf("FindConfig() = %v, %q, %v; want %s", cfg, path, err, want)
		}
		if _, err := ListNodes(nil); err == nil || err.Error() != want {
			t.Errorf("ListNodes(nil) = %v, want %s", err, want)
		}
		if _, err := ListServices(nil); err == nil || err.Error() != want {
			t.Errorf("ListServices(nil) = %v, want %s", err, want)
		}
		os.Remove(wdFile)
	})
	t.Run("a directory in the way", func(t *testing.T) {
		if err := os.MkdirAll(wdFile, 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(wdFile)
		if _, _, err := FindConfig(); err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("got %v, want an error saying %s is a directory", err, wdFile)
		}
	})
}

func TestNodeBuilderReadsConfigFile(t *testing.T) {
	isolateConfigSearch(t)
	base := testConfig(t)
	t.Setenv(ConfigEnv, fileForConfig(t, base))
	n, err := NewNodeBuilder().SignalHandling(false).Create()
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Config(); got.Prefix != base.Prefix || got.Root != base.Root {
		t.Errorf("node config has prefix %q root %q, want %q %q", got.Prefix, got.Root, base.Prefix, base.Root)
	}
	svc, err := PublishSubscribe[uint64](n, "config/file").Create()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := svc.PublisherBuilder().Create()
	if err != nil {
		t.Fatal(err)
	}
	if left := shmLeftovers(base); len(left) == 0 && !inProcess {
		t.Errorf("no segment with prefix %s in %s: the node did not use the file", base.Prefix, base.ShmDir)
	}
	nodes, err := ListNodes(nil) // the file's domain too
	if err != nil || len(nodes) != 1 || nodes[0].ID != n.ID() {
		t.Errorf("ListNodes(nil) = %v, %v; want the node %v", nodes, err, n.ID())
	}
	pub.Close()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	// The builder's Config wins over the file, even an invalid one.
	t.Setenv(ConfigEnv, writeConfigFile(t, "", "[global]\nprefix = 1\n"))
	n2, err := NewNodeBuilder().Config(testConfig(t)).SignalHandling(false).Create()
	if err != nil {
		t.Fatalf("with an explicit Config: %v", err)
	}
	n2.Close()
}

func TestNodeBuilderFailsOnInvalidConfigFile(t *testing.T) {
	isolateConfigSearch(t)
	path := writeConfigFile(t, "", "[defaults.publish-subscribe]\nmax-subscribers = 0\n")
	t.Setenv(ConfigEnv, path)
	n, err := NewNodeBuilder().SignalHandling(false).Create()
	want := path + `:2:19: key "defaults.publish-subscribe.max-subscribers": max subscribers is 0, must be in [1, 65536]`
	if n != nil || err == nil || err.Error() != want {
		t.Errorf("Create() = %v, %v; want the error %s", n, err, want)
	}
	if !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("errors.Is(%v, ErrInvalidConfig) is false", err)
	}
}

// TestConfigDomains: configurations with different prefixes or roots,
// loaded from files, never see each other's nodes or services, even when a
// prefix starts with another.
func TestConfigDomains(t *testing.T) {
	base := testConfig(t)
	longer := base.clone()
	longer.Prefix = base.Prefix + "x_"
	t.Cleanup(func() { assertNoShm(t, longer) })
	otherRoot := base.clone()
	otherRoot.Root = t.TempDir()
	type domain struct {
		cfg  *Config
		node *Node
	}
	var doms []domain
	for _, c := range []*Config{base, longer, otherRoot} {
		cfg, err := ConfigFromFile(fileForConfig(t, c))
		if err != nil {
			t.Fatal(err)
		}
		cfg.InProcess = inProcess
		n := testNode(t, cfg)
		svc, err := PublishSubscribe[uint64](n, "domain/test").Create()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { svc.Close() })
		ev, err := Event(n, "domain/test").Create()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ev.Close() })
		doms = append(doms, domain{cfg, n})
	}
	for i, d := range doms {
		nodes, err := ListNodes(d.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) != 1 || nodes[0].ID != d.node.ID() {
			t.Errorf("domain %d (prefix %s, root %s) lists nodes %v, want only %v", i, d.cfg.Prefix, d.cfg.Root, nodes, d.node.ID())
		}
		svcs, err := ListServices(d.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(svcs) != 2 {
			t.Errorf("domain %d lists %d services, want 2", i, len(svcs))
		}
		for _, s := range svcs {
			if len(s.Nodes) != 1 || s.Nodes[0] != d.node.ID() {
				t.Errorf("domain %d: service %s %s has nodes %v, want only %v", i, s.Static.Pattern, s.Static.Name, s.Nodes, d.node.ID())
			}
		}
	}
}

// fakeDeadNode leaves the lock file of a node that died in cfg's domain.
func fakeDeadNode(t *testing.T, cfg *Config) string {
	t.Helper()
	if err := os.MkdirAll(cfg.nodesDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	path := cfg.nodeLockPath(newID())
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func TestCleanupFlags(t *testing.T) {
	off := testConfig(t)
	off.CleanupDeadNodesOnCreation, off.CleanupDeadNodesOnDestruction = false, false
	dead := fakeDeadNode(t, off)
	n, err := NewNodeBuilder().Config(off).SignalHandling(false).Create()
	if err != nil {
		t.Fatal(err)
	}
	if !exists(dead) {
		t.Errorf("Create cleaned up with cleanup-dead-nodes-on-creation false")
	}
	n.Close()
	if !exists(dead) {
		t.Errorf("Close cleaned up with cleanup-dead-nodes-on-destruction false")
	}
	if st := CleanupDeadNodes(off); st.Cleanups != 1 || exists(dead) {
		t.Errorf("CleanupDeadNodes = %+v, and the dead node's lock exists: %v", st, exists(dead))
	}

	on := testConfig(t)
	on.CleanupDeadNodesOnDestruction = false
	dead = fakeDeadNode(t, on)
	n = testNode(t, on)
	if exists(dead) {
		t.Errorf("Create did not clean up with cleanup-dead-nodes-on-creation true")
	}
	on.CleanupDeadNodesOnCreation, on.CleanupDeadNodesOnDestruction = false, true
	n2 := testNode(t, on)
	dead = fakeDeadNode(t, on)
	n2.Close()
	if exists(dead) {
		t.Errorf("Close did not clean up with cleanup-dead-nodes-on-destruction true")
	}
	n.Close()
}

func init() { helpers["config-holder"] = helperConfigHolder }

// helperConfigHolder opens a service and holds it until it is killed.
func helperConfigHolder() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	if _, err := PublishSubscribe[uint64](node, "config/open").Open(); err != nil {
		return err
	}
	fmt.Println("ready")
	for {
		time.Sleep(time.Hour)
	}
}

// TestCleanupDeadNodesOnOpenFlag: opening a service removes the ports of
// its dead nodes first only with cleanup-dead-nodes-on-open.
func TestCleanupDeadNodesOnOpenFlag(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.InProcess = false
			c := cfg.clone()
			c.CleanupDeadNodesOnCreation, c.CleanupDeadNodesOnOpen = false, on
			// Nobody else cleans up after the dead helper within the
			// test: the nodes' watches over their peers would (at once,
			// through a pidfd), so they treat every peer as one to sweep,
			// and sweep once an hour.
			c.LivenessSweepInterval = time.Hour
			creator := testNode(t, c)
			creator.live.forceSweep = true
			svc, err := PublishSubscribe[uint64](creator, "config/open").Create()
			if err != nil {
				t.Fatal(err)
			}
			startAndKill(t, cfg, "config-holder", 0) // joins, then dies
			n := testNode(t, c)
			n.live.forceSweep = true
			opened, err := PublishSubscribe[uint64](n, "config/open").Open()
			if err != nil {
				t.Fatal(err)
			}
			want := 3 // creator, the dead helper, n
			if on {
				want = 2
			}
			if got := len(opened.ps.core.dyn.nodeIDs()); got != want {
				t.Errorf("after open, the service has %d nodes, want %d", got, want)
			}
			opened.Close()
			svc.Close()
			n.Close()
			creator.Close() // cleans up after the dead helper (on destruction)
		})
	}
}

func FuzzConfigFromBytes(f *testing.F) {
	text, _ := DefaultConfig().MarshalTOML()
	f.Add(text)
	for _, s := range []string{
		"", "[global]\nprefix = \"x\"\n", "global = { node = { cleanup-dead-nodes-on-creation = 1 } }",
		"[[defaults.event]]\n", "a.b.c = [1, {x = 2}]", "[global]\nfile-mode = \"0o7777\"\n",
		"[defaults.event]\nnotifier-dead-event = 9223372036854775807\n", "\"\\u0000\" = 1", "[global\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := configFromBytes("fuzz.toml", data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("got config %v and error %v", cfg, err)
		}
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatal(err)
			}
			return
		}
		if err := validateConfigFile(cfg); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
		// What was accepted writes back and reads back the same.
		out, err := cfg.MarshalTOML()
		if err != nil {
			t.Fatal(err)
		}
		again, err := configFromBytes("again.toml", out)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("round trip differs: %+v vs %+v", cfg, again)
		}
	})
}
