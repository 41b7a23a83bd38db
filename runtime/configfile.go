package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// ConfigEnv is the environment variable that names the configuration file.
// When it is set and not empty, FindConfig reads that file (which must
// exist) and looks nowhere else.
const ConfigEnv = "IOX2GO_CONFIG"

// ErrInvalidConfig is wrapped by every error about the contents of a
// configuration file (see ConfigError).
var ErrInvalidConfig = errors.New("iox2: invalid configuration")

// ConfigError is an error in a configuration file: a syntax error, an
// unknown key, a value of the wrong type or an invalid value. Its message
// has the form
//
//	path:LINE:COL: key "global.prefix": message
//
// where the position and the key are left out when unknown. errors.Is(err,
// ErrInvalidConfig) holds for it.
type ConfigError struct {
	File   string // the file as given to ConfigFromFile
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based, in bytes; 0 when unknown
	Key    string // dotted key, such as "global.prefix"; "" when none
	Msg    string // what is wrong
}

// Error formats the error as path:LINE:COL: key "KEY": MSG.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// ConfigKey describes one key of the configuration file, for documentation
// and `iox2 config explain`.
type ConfigKey struct {
	Key         string // dotted, such as "defaults.event.max-listeners"
	Type        string // string, boolean, integer, duration, file mode, backpressure, event id
	Default     string // the default as a TOML value, or "none" for an absent optional value
	Description string // one or two sentences
}

// configKeyDesc is the one table that the file's reader, its writer and
// ConfigKeys all derive from. field returns a pointer into c: *string,
// *bool, *int, *time.Duration, *os.FileMode, *Backpressure or **EventID;
// the pointer's type decides the key's TOML type.
type configKeyDesc struct {
	key   string
	field func(c *Config) any
	doc   string
}

// configKeyTable lists every key in file order: a table's own keys before
// its sub-tables, each table in one run.
var configKeyTable = []configKeyDesc{
	{"global.root-path", func(c *Config) any { return &c.Root },
		"Absolute directory of the static service configs and the node records."},
	{"global.shm-directory", func(c *Config) any { return &c.ShmDir },
		"Absolute directory of the shared-memory segments."},
	{"global.prefix", func(c *Config) any { return &c.Prefix },
		"Starts the name of every file and segment: configurations with different prefixes (or roots) are separate domains. Letters, digits, '_', '-' and '.', 1 to 64 bytes."},
	{"global.file-mode", func(c *Config) any { return &c.FileMode },
		"Permission of every file and segment created: 0o600 (same user) or, to share with a group, 0o660. Must include owner read and write; permissions for other users (0o007) are refused."},
	{"global.creation-timeout", func(c *Config) any { return &c.CreationTimeout },
		"How long an opener waits for a service whose creator has not finished creating it; CleanupDeadNodes waits up to 4 times as long for another cleaner of a dead node. At least \"1ms\"."},
	{"global.discovery-interval", func(c *Config) any { return &c.DiscoveryInterval },
		"Deprecated, without effect: accepted so that older files still load; discovery is driven by events, and no goroutine wakes on a timer. At least \"10ms\"."},
	{"global.liveness-sweep-interval", func(c *Config) any { return &c.LivenessSweepInterval },
		"How often a node probes the peers it cannot watch through a pidfd (another PID namespace, a kernel before Linux 5.3); the timer runs only while such peers exist. Peers in the node's PID namespace are watched through a pidfd instead, without a timer. At least \"10ms\"."},
	{"global.port-memory-limit", func(c *Config) any { return &c.PortMemoryLimit },
		"Most memory, in bytes, that one port may need by its service's QoS and its own settings, at the worst case: the shared memory it creates and what tracks it. A service whose QoS exceeds it is refused when created and when opened. At least 1048576 (1 MiB)."},
	{"global.node.cleanup-dead-nodes-on-creation", func(c *Config) any { return &c.CleanupDeadNodesOnCreation },
		"Whether creating a node removes what the dead nodes of the domain left behind."},
	{"global.node.cleanup-dead-nodes-on-destruction", func(c *Config) any { return &c.CleanupDeadNodesOnDestruction },
		"Whether closing a node removes what the dead nodes of the domain left behind."},
	{"global.service.cleanup-dead-nodes-on-open", func(c *Config) any { return &c.CleanupDeadNodesOnOpen },
		"Whether opening a service first removes the ports of its dead nodes. (The node's watch over the peers of its open services runs regardless.)"},

	{"defaults.publish-subscribe.max-subscribers", func(c *Config) any { return &c.Defaults.PublishSubscribe.MaxSubscribers },
		"Subscribers a new service supports at once (1 to 65536)."},
	{"defaults.publish-subscribe.max-publishers", func(c *Config) any { return &c.Defaults.PublishSubscribe.MaxPublishers },
		"Publishers a new service supports at once (1 to 65536)."},
	{"defaults.publish-subscribe.max-nodes", func(c *Config) any { return &c.Defaults.PublishSubscribe.MaxNodes },
		"Nodes that may have a new service open at once (1 to 65536)."},
	{"defaults.publish-subscribe.subscriber-max-buffer-size", func(c *Config) any { return &c.Defaults.PublishSubscribe.SubscriberMaxBufferSize },
		"Largest receive queue a subscriber may ask for."},
	{"defaults.publish-subscribe.subscriber-max-borrowed-samples", func(c *Config) any { return &c.Defaults.PublishSubscribe.SubscriberMaxBorrowedSamples },
		"Received samples a subscriber may hold at once before releasing them."},
	{"defaults.publish-subscribe.publisher-max-loaned-samples", func(c *Config) any { return &c.Defaults.PublishSubscribe.PublisherMaxLoanedSamples },
		"Samples a publisher may have on loan at once (a publisher setting)."},
	{"defaults.publish-subscribe.publisher-history-size", func(c *Config) any { return &c.Defaults.PublishSubscribe.HistorySize },
		"Most recent samples each publisher keeps for subscribers that join later (0 to 65536)."},
	{"defaults.publish-subscribe.enable-safe-overflow", func(c *Config) any { return &c.Defaults.PublishSubscribe.EnableSafeOverflow },
		"What a publisher does with a full subscriber queue: replace the oldest sample (true) or apply its backpressure strategy (false)."},
	{"defaults.publish-subscribe.backpressure-strategy", func(c *Config) any { return &c.Defaults.PublishSubscribe.PublisherBackpressure },
		"What a publisher's send does with a full subscriber queue when safe overflow is off: \"RetryUntilDelivered\" or \"DiscardData\" (a publisher setting)."},

	{"defaults.event.max-listeners", func(c *Config) any { return &c.Defaults.Event.MaxListeners },
		"Listeners a new event service supports at once (1 to 65536)."},
	{"defaults.event.max-notifiers", func(c *Config) any { return &c.Defaults.Event.MaxNotifiers },
		"Notifiers a new event service supports at once (1 to 65536)."},
	{"defaults.event.max-nodes", func(c *Config) any { return &c.Defaults.Event.MaxNodes },
		"Nodes that may have a new event service open at once (1 to 65536)."},
	{"defaults.event.event-id-max-value", func(c *Config) any { return &c.Defaults.Event.EventIDMaxValue },
		"Largest event id (0 to 65535)."},
	{"defaults.event.deadline", func(c *Config) any { return &c.Defaults.Event.Deadline },
		"Longest time between two notifications before listeners are told of a missed deadline; \"0s\" is none, else at least \"1ms\"."},
	{"defaults.event.notifier-created-event", func(c *Config) any { return &c.Defaults.Event.NotifierCreatedEvent },
		"Event id a notifier sends when it is created; absent: none."},
	{"defaults.event.notifier-dropped-event", func(c *Config) any { return &c.Defaults.Event.NotifierDroppedEvent },
		"Event id a notifier sends when it is closed; absent: none."},
	{"defaults.event.notifier-dead-event", func(c *Config) any { return &c.Defaults.Event.NotifierDeadEvent },
		"Event id sent for each notifier of a dead node when it is cleaned up; absent: none."},

	{"defaults.request-response.enable-safe-overflow-for-requests", func(c *Config) any { return &c.Defaults.RequestResponse.EnableSafeOverflowForRequests },
		"What a client does with a server whose request queue is full: replace the oldest request (true) or apply the client's backpressure (false)."},
	{"defaults.request-response.enable-safe-overflow-for-responses", func(c *Config) any { return &c.Defaults.RequestResponse.EnableSafeOverflowForResponses },
		"What a server does with a full response buffer: replace the oldest response (true) or apply the server's backpressure (false)."},
	{"defaults.request-response.max-active-requests-per-client", func(c *Config) any { return &c.Defaults.RequestResponse.MaxActiveRequestsPerClient },
		"Pending responses a client may have at once."},
	{"defaults.request-response.max-response-buffer-size", func(c *Config) any { return &c.Defaults.RequestResponse.MaxResponseBufferSize },
		"Unread responses one server can queue for one pending response."},
	{"defaults.request-response.max-servers", func(c *Config) any { return &c.Defaults.RequestResponse.MaxServers },
		"Servers a new service supports at once."},
	{"defaults.request-response.max-clients", func(c *Config) any { return &c.Defaults.RequestResponse.MaxClients },
		"Clients a new service supports at once."},
	{"defaults.request-response.max-nodes", func(c *Config) any { return &c.Defaults.RequestResponse.MaxNodes },
		"Nodes that may have a new service open at once."},
	{"defaults.request-response.max-borrowed-responses-per-pending-response", func(c *Config) any { return &c.Defaults.RequestResponse.MaxBorrowedResponsesPerPendingResponse },
		"Received responses a client may hold at once per pending response."},
	{"defaults.request-response.max-loaned-requests", func(c *Config) any { return &c.Defaults.RequestResponse.MaxLoanedRequests },
		"Requests a client may have on loan at once."},
	{"defaults.request-response.server-max-loaned-responses-per-request", func(c *Config) any { return &c.Defaults.RequestResponse.ServerMaxLoanedResponsesPerRequest },
		"Responses a server may have on loan at once per request (a server setting)."},
	{"defaults.request-response.client-backpressure-strategy", func(c *Config) any { return &c.Defaults.RequestResponse.ClientBackpressure },
		"What a client's send does with a full server queue when safe overflow is off: \"RetryUntilDelivered\" or \"DiscardData\"."},
	{"defaults.request-response.server-backpressure-strategy", func(c *Config) any { return &c.Defaults.RequestResponse.ServerBackpressure },
		"What a server's send does with a full response buffer when safe overflow is off: \"RetryUntilDelivered\" or \"DiscardData\"."},
	{"defaults.request-response.enable-fire-and-forget-requests", func(c *Config) any { return &c.Defaults.RequestResponse.EnableFireAndForgetRequests },
		"Whether servers receive requests whose pending response the client has already closed (true) or skip them (false)."},

	{"gateway.nats-url", func(c *Config) any { return &c.Gateway.NATSURL },
		"The NATS server a gateway (`iox2 gateway`) connects to; several URLs separated by commas. Nodes ignore the [gateway] table."},
	{"gateway.namespace", func(c *Config) any { return &c.Gateway.Namespace },
		"Second token of every subject (iox2go.<namespace>.…): gateways with the same namespace form one domain across hosts. Letters, digits, '_' and '-'; empty: the prefix without its trailing '_'."},
	{"gateway.allow", func(c *Config) any { return &c.Gateway.Allow },
		"Service names (path.Match patterns such as \"robot/*\") that are bridged; empty: every service."},
	{"gateway.deny", func(c *Config) any { return &c.Gateway.Deny },
		"Service names (path.Match patterns) that are never bridged; deny wins over allow."},
	{"gateway.tls-ca", func(c *Config) any { return &c.Gateway.TLSCA },
		"PEM file of the CA that signs the NATS server's certificate; empty: the system's."},
	{"gateway.tls-cert", func(c *Config) any { return &c.Gateway.TLSCert },
		"PEM file of the gateway's client certificate (with tls-key); empty: none."},
	{"gateway.tls-key", func(c *Config) any { return &c.Gateway.TLSKey },
		"PEM file of the key of tls-cert; empty: none."},
	{"gateway.creds", func(c *Config) any { return &c.Gateway.Creds },
		"NATS credentials file (user JWT and nkey seed); empty: none."},
	{"gateway.heartbeat-interval", func(c *Config) any { return &c.Gateway.HeartbeatInterval },
		"How often a gateway announces its services; a remote gateway not heard from for 3 intervals is forgotten. At least \"10ms\"."},
	{"gateway.max-pending-messages", func(c *Config) any { return &c.Gateway.MaxPendingMessages },
		"Messages each bridged service's NATS subscription may queue; beyond, they are dropped and counted. For a publish-subscribe service it counts samples, about (the message limit is this divided by the samples a message, a batch, holds on average). At least 1."},
	{"gateway.max-pending-bytes", func(c *Config) any { return &c.Gateway.MaxPendingBytes },
		"Bytes each bridged service's NATS subscription may queue; beyond, messages are dropped and counted. At least 1."},
}

// configKeyIndex maps a dotted key to its index in configKeyTable, and
// configTables holds every table that is a prefix of a key.
var configKeyIndex, configTables = func() (map[string]int, map[string]bool) {
	idx := map[string]int{}
	tables := map[string]bool{}
	for i, d := range configKeyTable {
		idx[d.key] = i
		for j := range len(d.key) {
			if d.key[j] == '.' {
				tables[d.key[:j]] = true
			}
		}
	}
	return idx, tables
}()

// ConfigKeys returns every key of the configuration file in file order,
// with its type, default and meaning.
func ConfigKeys() []ConfigKey {
	def := DefaultConfig()
	out := make([]ConfigKey, 0, len(configKeyTable))
	for _, d := range configKeyTable {
		v, err := tomlValue(d.field(def))
		if err != nil {
			v = err.Error()
		}
		if v == "" {
			v = "none"
		}
		out = append(out, ConfigKey{Key: d.key, Type: typeName(d.field(def)), Default: v, Description: d.doc})
	}
	return out
}

func typeName(p any) string {
	switch p.(type) {
	case *string:
		return "string"
	case *bool:
		return "boolean"
	case *int:
		return "integer"
	case *time.Duration:
		return "duration"
	case *os.FileMode:
		return "file mode"
	case *Backpressure:
		return "backpressure"
	case **EventID:
		return "event id"
	case *[]string:
		return "array of strings"
	}
	panic(fmt.Sprintf("iox2: config key of unsupported type %T", p))
}

// wants is the start of a type-mismatch message: "wants X, found Y".
func wants(p any) string {
	switch p.(type) {
	case *string:
		return "a string"
	case *bool:
		return "a boolean"
	case *int:
		return "an integer"
	case *time.Duration:
		return `a duration string such as "500ms"`
	case *os.FileMode:
		return `a file mode such as 0o600 or "0600"`
	case *Backpressure:
		return `"RetryUntilDelivered" or "DiscardData"`
	case **EventID:
		return "an integer event id"
	case *[]string:
		return `an array of strings such as ["robot/*"]`
	}
	return "?"
}

var backpressureNames = map[Backpressure]string{RetryUntilDelivered: "RetryUntilDelivered", DiscardData: "DiscardData"}

// tomlValue formats the value p points at as a TOML value; "" for an
// absent optional value.
func tomlValue(p any) (string, error) {
	switch v := p.(type) {
	case *string:
		if !utf8.ValidString(*v) {
			return "", fmt.Errorf("%q is not valid UTF-8", *v)
		}
		return tomlQuote(*v), nil
	case *bool:
		return strconv.FormatBool(*v), nil
	case *int:
		return strconv.Itoa(*v), nil
	case *time.Duration:
		return tomlQuote(v.String()), nil
	case *os.FileMode:
		return fmt.Sprintf("0o%03o", uint32(*v)), nil
	case *Backpressure:
		name, ok := backpressureNames[*v]
		if !ok {
			return "", fmt.Errorf("unknown backpressure strategy %v", *v)
		}
		return tomlQuote(name), nil
	case **EventID:
		if *v == nil {
			return "", nil
		}
		return strconv.FormatUint(uint64(**v), 10), nil
	case *[]string:
		parts := make([]string, len(*v))
		for i, s := range *v {
			if !utf8.ValidString(s) {
				return "", fmt.Errorf("%q is not valid UTF-8", s)
			}
			parts[i] = tomlQuote(s)
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	}
	return "", fmt.Errorf("unsupported type %T", p)
}

// tomlQuote writes s as a TOML basic string.
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// setValue stores the decoded TOML value v (as go-toml decodes into an
// interface: string, bool, int64, float64, []any, map[string]any, dates)
// into the field p points at. The error is the message of a ConfigError.
func setValue(p any, v any) error {
	mismatch := func() error { return fmt.Errorf("wants %s, found %s", wants(p), tomlTypeOf(v)) }
	switch f := p.(type) {
	case *string:
		s, ok := v.(string)
		if !ok {
			return mismatch()
		}
		*f = s
	case *bool:
		b, ok := v.(bool)
		if !ok {
			return mismatch()
		}
		*f = b
	case *int:
		n, ok := v.(int64)
		if !ok {
			return mismatch()
		}
		if int64(int(n)) != n {
			return fmt.Errorf("%d is out of range", n)
		}
		*f = int(n)
	case *time.Duration:
		s, ok := v.(string)
		if !ok {
			return mismatch()
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf(`invalid duration %q: wants a number with a unit such as "500ms", "2s" or "1m30s"`, s)
		}
		*f = d
	case *os.FileMode:
		var m int64
		switch x := v.(type) {
		case int64:
			m = x
		case string:
			digits := strings.TrimPrefix(strings.TrimPrefix(x, "0o"), "0")
			if x == "0" || x == "00" {
				digits = "0"
			}
			n, err := strconv.ParseUint(digits, 8, 32)
			if err != nil || digits == "" {
				return fmt.Errorf(`invalid file mode %q: wants octal digits such as "0600"`, x)
			}
			m = int64(n)
		default:
			return mismatch()
		}
		if m < 0 || m > 0o777 {
			return fmt.Errorf("file mode %d (0o%o) holds more than permission bits: write it in octal, such as 0o600 or \"0600\"", m, m)
		}
		*f = os.FileMode(m)
	case *Backpressure:
		s, ok := v.(string)
		if !ok {
			return mismatch()
		}
		for b, name := range backpressureNames {
			if s == name {
				*f = b
				return nil
			}
		}
		return fmt.Errorf(`unknown backpressure strategy %q: wants "RetryUntilDelivered" or "DiscardData"`, s)
	case **EventID:
		n, ok := v.(int64)
		if !ok {
			return mismatch()
		}
		if n < 0 {
			return fmt.Errorf("event id %d is negative", n)
		}
		id := EventID(n)
		*f = &id
	case *[]string:
		a, ok := v.([]any)
		if !ok {
			return mismatch()
		}
		out := make([]string, 0, len(a))
		for i, e := range a {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("element %d: wants a string, found %s", i, tomlTypeOf(e))
			}
			out = append(out, s)
		}
		if len(out) == 0 {
			out = nil // as the default: an empty array reads back equal
		}
		*f = out
	default:
		return fmt.Errorf("unsupported field type %T", p)
	}
	return nil
}

// tomlTypeOf names the TOML type of a decoded value.
func tomlTypeOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "float"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	case time.Time:
		return "date-time"
	case toml.LocalDateTime:
		return "local date-time"
	case toml.LocalDate:
		return "local date"
	case toml.LocalTime:
		return "local time"
	}
	return fmt.Sprintf("%T", v)
}

// MarshalTOML returns the whole configuration as a commented TOML document
// that ConfigFromFile reads back to an equal Config (InProcess, which is
// not a file setting, aside). An absent optional value is written as a
// commented-out line. It fails only for a value that has no TOML form (an
// unknown Backpressure, a string that is not UTF-8).
func (c *Config) MarshalTOML() ([]byte, error) {
	var b strings.Builder
	b.WriteString("# iox2go configuration. Every key is optional: an absent key keeps its\n")
	b.WriteString("# default. See docs/CONFIG.md.\n")
	table := ""
	for _, d := range configKeyTable {
		dot := strings.LastIndexByte(d.key, '.')
		t, name := d.key[:dot], d.key[dot+1:]
		if t != table {
			fmt.Fprintf(&b, "\n[%s]\n", t)
			table = t
		} else {
			b.WriteByte('\n')
		}
		v, err := tomlValue(d.field(c))
		if err != nil {
			return nil, fmt.Errorf("iox2: config: key %q: %v", d.key, err)
		}
		writeComment(&b, d.doc)
		if v == "" {
			fmt.Fprintf(&b, "# %s = 0\n", name)
		} else {
			fmt.Fprintf(&b, "%s = %s\n", name, v)
		}
	}
	return []byte(b.String()), nil
}

// writeComment writes text as # lines of at most about 78 columns.
func writeComment(b *strings.Builder, text string) {
	line := "#"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > 78 && line != "#" {
			b.WriteString(line + "\n")
			line = "#"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
}

// ConfigFromFile reads the TOML configuration file at path: the defaults
// of DefaultConfig with the file's values on top. Every key is optional.
// It checks the whole file and returns either a valid Config or an error,
// never a partial configuration: a syntax error, an unknown key, a value
// of the wrong type or an invalid value is a *ConfigError naming the file,
// line, column and key (several are joined with errors.Join, in file
// order). A file that cannot be read is reported with the os error; a
// file larger than 64 KiB is refused.
func ConfigFromFile(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("iox2: config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("iox2: config: %w", err)
	}
	return configFromBytes(path, data)
}

// maxConfigFileSize bounds a configuration file (the whole commented
// document that MarshalTOML writes is about 6 KiB). It keeps the parsing
// time small: the TOML library's time grows with the square of the number
// of keys.
const maxConfigFileSize = 64 << 10

// keyPos is where a key and its value are in the file.
type keyPos struct {
	line, col       int // of the key
	valLine, valCol int // of the value; 0 for a table
}

// filePositions records where each key of a document is; its methods never
// fail: unknown positions stay 0.
type filePositions struct {
	first map[string]keyPos // by full path, joined with "\x00": the first occurrence
	at    map[[2]int]string // full path of the key part that starts at line, column
}

// configFromBytes parses data as the contents of the file named path.
func configFromBytes(path string, data []byte) (cfg *Config, err error) {
	defer func() {
		// Nothing below should panic; should a library bug make it, the
		// caller still gets an error and not a crash.
		if r := recover(); r != nil {
			cfg, err = nil, &ConfigError{File: path, Msg: fmt.Sprintf("internal error reading the file: %v", r)}
		}
	}()
	// A byte order mark, as some editors write, is not TOML; editors do
	// not show it, so columns are counted without it.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if len(data) > maxConfigFileSize {
		return nil, &ConfigError{File: path, Msg: fmt.Sprintf("the file is larger than %d bytes: not a configuration file", maxConfigFileSize)}
	}
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		ce := &ConfigError{File: path, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			ce.Line, ce.Column = de.Position()
			if len(de.Key()) == 0 {
				ce.Key = keyOfLine(data, ce.Line)
			} else {
				// The library's key is relative to the current table:
				// find the full key from the position.
				ce.Key = strings.Join(de.Key(), ".")
				if pos, ok := scanPositions(data); ok {
					if full, ok := pos.at[[2]int{ce.Line, ce.Column}]; ok {
						ce.Key = displayKey(full)
					}
				}
			}
		}
		return nil, ce
	}
	pos, _ := scanPositions(data)
	cfg = DefaultConfig()
	var errs []*ConfigError
	var set []int // indexes into configKeyTable of the keys the file sets, in file order
	setAt := map[int]keyPos{}
	var walk func(prefix []string, m map[string]any)
	walk = func(prefix []string, m map[string]any) {
		for name, v := range m {
			parts := append(slices.Clip(prefix), name)
			full := strings.Join(parts, "\x00")
			p := pos.first[full]
			if p.valLine == 0 { // a table header: point at its key
				p.valLine, p.valCol = p.line, p.col
			}
			dotted := strings.Join(parts, ".")
			if i, ok := configKeyIndex[dotted]; ok && !strings.Contains(name, ".") {
				if msg := setValue(configKeyTable[i].field(cfg), v); msg != nil {
					errs = append(errs, &ConfigError{File: path, Line: p.valLine, Column: p.valCol, Key: dotted, Msg: msg.Error()})
					continue
				}
				set = append(set, i)
				setAt[i] = p
				continue
			}
			if configTables[dotted] && !strings.Contains(name, ".") {
				sub, ok := v.(map[string]any)
				if !ok {
					errs = append(errs, &ConfigError{File: path, Line: p.valLine, Column: p.valCol, Key: displayKey(full), Msg: "wants a table, found " + tomlTypeOf(v)})
					continue
				}
				walk(parts, sub)
				continue
			}
			msg := "unknown key"
			if alt := suggestKey(prefix, name); alt != "" {
				msg += fmt.Sprintf("; did you mean %q?", alt)
			}
			errs = append(errs, &ConfigError{File: path, Line: p.line, Column: p.col, Key: displayKey(full), Msg: msg})
		}
	}
	walk(nil, doc)
	if len(errs) > 0 {
		return nil, joinConfigErrors(errs)
	}
	if err := validateConfigFile(cfg); err != nil {
		ce := &ConfigError{File: path, Msg: err.Error()}
		slices.SortFunc(set, func(a, b int) int { return comparePos(setAt[a], setAt[b]) })
		if i, ok := blame(cfg, set, err); ok {
			p := setAt[i]
			ce.Line, ce.Column, ce.Key = p.valLine, p.valCol, configKeyTable[i].key
		}
		return nil, ce
	}
	return cfg, nil
}

func comparePos(a, b keyPos) int {
	if a.line != b.line {
		return a.line - b.line
	}
	return a.col - b.col
}

// joinConfigErrors returns the errors in file order, as one error: the
// first 20 of them and how many more there are.
func joinConfigErrors(errs []*ConfigError) error {
	slices.SortFunc(errs, func(a, b *ConfigError) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		if a.Column != b.Column {
			return a.Column - b.Column
		}
		return strings.Compare(a.Key, b.Key)
	})
	if len(errs) == 1 {
		return errs[0]
	}
	const most = 20
	all := make([]error, 0, most+1)
	for _, e := range errs[:min(len(errs), most)] {
		all = append(all, e)
	}
	if len(errs) > most {
		all = append(all, fmt.Errorf("%s: and %d more errors", errs[0].File, len(errs)-most))
	}
	return errors.Join(all...)
}

// validateConfigFile runs the checks of Config.Validate and of the three
// default QoS (each value, and their combinations that no payload type
// could fit in a chunk index), with messages that do not repeat "config".
func validateConfigFile(c *Config) error {
	if err := c.Validate(); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "iox2: config: "))
	}
	if err := c.Defaults.PublishSubscribe.validate(); err != nil {
		return err
	}
	if err := c.Defaults.Event.validate(); err != nil {
		return err
	}
	if err := c.Defaults.RequestResponse.validate(); err != nil {
		return err
	}
	return checkDefaultIndexes(c)
}

// blame finds the key of the file that the validation error verr is about:
// the last key (in file order) whose reset to its default changes the
// outcome of the validation. A check that involves two keys (the history
// size and the buffer size, an event id and the event id max value) blames
// the one that comes later in the file.
func blame(cfg *Config, set []int, verr error) (int, bool) {
	def := DefaultConfig()
	for _, i := range slices.Backward(set) {
		trial := cfg.clone()
		d := configKeyTable[i]
		reflect.ValueOf(d.field(trial)).Elem().Set(reflect.ValueOf(d.field(def)).Elem())
		if err := validateConfigFile(trial); err == nil || err.Error() != verr.Error() {
			return i, true
		}
	}
	return 0, false
}

// displayKey turns a path joined with "\x00" into a dotted key, quoting the
// parts that are not bare TOML keys.
func displayKey(full string) string {
	parts := strings.Split(full, "\x00")
	for i, p := range parts {
		if !isBareKey(p) {
			parts[i] = tomlQuote(p)
		}
	}
	return strings.Join(parts, ".")
}

// scanPositions walks the document's syntax tree and records where every
// key is. It reports false (with what it found so far) on a syntax error.
func scanPositions(data []byte) (filePositions, bool) {
	fp := filePositions{first: map[string]keyPos{}, at: map[[2]int]string{}}
	var p unstable.Parser
	p.Reset(data)
	// Positions from offsets by binary search over the line starts (the
	// parser's Shape counts lines from the start of the file each time).
	lineStarts := []int{0}
	for i, c := range data {
		if c == '\n' {
			lineStarts = append(lineStarts, i+1)
		}
	}
	shape := func(n *unstable.Node) (int, int) {
		if n == nil || n.Raw.Length == 0 && n.Raw.Offset == 0 && n.Kind != unstable.Key {
			return 0, 0
		}
		off := int(n.Raw.Offset)
		line, _ := slices.BinarySearch(lineStarts, off+1) // lineStarts[line-1] <= off
		return line, off - lineStarts[line-1] + 1
	}
	// keys records the parts of a dotted key under prefix and returns the
	// full path of the last part.
	keys := func(prefix []string, it unstable.Iterator) []string {
		path := slices.Clip(prefix)
		for it.Next() {
			k := it.Node()
			path = append(path, string(k.Data))
			l, c := shape(k)
			full := strings.Join(path, "\x00")
			fp.at[[2]int{l, c}] = full
			if _, ok := fp.first[full]; !ok {
				fp.first[full] = keyPos{line: l, col: c}
			}
		}
		return path
	}
	var keyValue func(prefix []string, kv *unstable.Node)
	keyValue = func(prefix []string, kv *unstable.Node) {
		path := keys(prefix, kv.Key())
		full := strings.Join(path, "\x00")
		val := kv.Value()
		kp := fp.first[full]
		if kp.valLine == 0 {
			kp.valLine, kp.valCol = shape(val)
			if kp.valLine == 0 { // arrays carry no position: use the key's
				kp.valLine, kp.valCol = kp.line, kp.col
			}
			fp.first[full] = kp
		}
		if val.Kind == unstable.InlineTable {
			it := val.Children()
			for it.Next() {
				if it.Node().Kind == unstable.KeyValue {
					keyValue(path, it.Node())
				}
			}
		}
	}
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keys(nil, e.Key())
		case unstable.KeyValue:
			keyValue(table, e)
		}
	}
	return fp, p.Error() == nil
}

// ConfigSearchPaths returns where FindConfig looks for a configuration
// file when $IOX2GO_CONFIG is not set, in order: config/iox2go.toml in the
// working directory, iox2go/iox2go.toml in the user's configuration
// directory (os.UserConfigDir: $XDG_CONFIG_HOME or ~/.config) and
// /etc/iox2go/iox2go.toml. A directory that cannot be determined is left
// out.
func ConfigSearchPaths() []string {
	var ps []string
	if wd, err := os.Getwd(); err == nil {
		ps = append(ps, filepath.Join(wd, "config", "iox2go.toml"))
	}
	if dir, err := os.UserConfigDir(); err == nil {
		ps = append(ps, filepath.Join(dir, "iox2go", "iox2go.toml"))
	}
	return append(ps, "/etc/iox2go/iox2go.toml")
}

// FindConfig returns the configuration that a node without an explicit
// Config uses, and the file it came from. When $IOX2GO_CONFIG is set and
// not empty, it reads that file, which must exist. Otherwise it reads the
// first file of ConfigSearchPaths that exists; with none, it returns
// DefaultConfig() and path "".
//
// Unlike iceoryx2, a file that exists but is invalid (or unreadable) is an
// error, not a warning followed by the next location: nothing starts on a
// configuration other than the one the user wrote.
func FindConfig() (cfg *Config, path string, err error) {
	if p := os.Getenv(ConfigEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return nil, p, fmt.Errorf("iox2: config: $%s: %w", ConfigEnv, err)
		}
		cfg, err := ConfigFromFile(p)
		return cfg, p, err
	}
	for _, p := range ConfigSearchPaths() {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue
		}
		if err != nil {
			return nil, p, fmt.Errorf("iox2: config: %w", err)
		}
		if fi.IsDir() {
			return nil, p, fmt.Errorf("iox2: config: %s is a directory", p)
		}
		cfg, err := ConfigFromFile(p)
		return cfg, p, err
	}
	return DefaultConfig(), "", nil
}

// foundConfigOr returns cfg when it is not nil, else FindConfig's
// configuration, else (when the file is invalid) DefaultConfig.
func foundConfigOr(cfg *Config) *Config {
	if cfg != nil {
		return cfg
	}
	if c, _, err := FindConfig(); err == nil {
		return c
	}
	return DefaultConfig()
}

// keyOfLine guesses the full key of a line that holds a syntax error: the
// bare (possibly dotted) key before its '=', under the last table header
// above it. It returns "" when the line does not start with a key.
func keyOfLine(data []byte, line int) string {
	lines := strings.Split(string(data), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	key, _, ok := strings.Cut(lines[line-1], "=")
	if !ok {
		return ""
	}
	var parts []string
	for _, p := range strings.Split(key, ".") {
		p = strings.TrimSpace(p)
		if p == "" || !isBareKey(p) {
			return ""
		}
		parts = append(parts, p)
	}
	for i := line - 2; i >= 0; i-- {
		l, _, _ := strings.Cut(lines[i], "#")
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "[") {
			continue
		}
		l = strings.Trim(l, "[] \t\r")
		var table []string
		for _, p := range strings.Split(l, ".") {
			p = strings.TrimSpace(p)
			if !isBareKey(p) {
				return ""
			}
			table = append(table, p)
		}
		parts = append(table, parts...)
		break
	}
	return strings.Join(parts, ".")
}

func isBareKey(p string) bool {
	if p == "" {
		return false
	}
	for j := 0; j < len(p); j++ {
		c := p[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// suggestKey returns the key or table of the table prefix whose name is
// closest to name (at most two edits, after folding case and '_' to '-'),
// or "".
func suggestKey(prefix []string, name string) string {
	table := strings.Join(prefix, ".")
	fold := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }
	best, bestDist := "", 3
	consider := func(full string) {
		rest, ok := strings.CutPrefix(full, table)
		if table != "" && (!ok || !strings.HasPrefix(rest, ".")) {
			return
		}
		rest = strings.TrimPrefix(rest, ".")
		if rest == "" || strings.Contains(rest, ".") {
			return
		}
		if d := editDistance(fold(name), fold(rest)); d < bestDist {
			best, bestDist = rest, d
		}
	}
	for _, d := range configKeyTable {
		consider(d.key)
	}
	for t := range configTables {
		consider(t)
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
