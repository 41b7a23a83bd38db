package main

// End-to-end tests of the inspection commands (node, service, clean): they
// build the iox2 binary once, start real peer processes (this test binary
// re-executed with $IOX2_INSPECT_PEER set) that open services of
// examples/gen/robot in a domain of the test's own, and run iox2 against
// that domain. Text output is compared with golden files in testdata
// (go test ./cmd/iox2 -run Inspect -update rewrites them) after the
// values that change from run to run are replaced by placeholders; JSON
// output is checked field by field.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iox2go/iox2go/examples/gen/robot"
	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// The -update flag rewrites the golden files. Another test file of the
// package may declare it too: it is declared here only if it is not yet.
var _ = func() bool {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata")
	}
	return true
}()

// updateGoldens reports whether -update was given.
func updateGoldens() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const (
	inspectPeerEnv = "IOX2_INSPECT_PEER"      // comma-separated roles of a peer
	inspectNameEnv = "IOX2_INSPECT_PEER_NAME" // the peer's node name
)

// iox2Binary is built once per test run by TestMain.
var (
	iox2BinaryDir  string
	iox2BinaryOnce sync.Once
	iox2BinaryPath string
	iox2BinaryErr  error
)

func init() { inspectPeerHook() }

// TestMain removes the iox2 binary that the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if iox2BinaryDir != "" {
		os.RemoveAll(iox2BinaryDir)
	}
	os.Exit(code)
}

// inspectBin returns the path of the iox2 binary, building it on first use.
func inspectBin(t *testing.T) string {
	t.Helper()
	iox2BinaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "iox2-e2e-")
		if err != nil {
			iox2BinaryErr = err
			return
		}
		iox2BinaryDir = dir
		iox2BinaryPath = filepath.Join(dir, "iox2")
		if out, err := exec.Command("go", "build", "-o", iox2BinaryPath, ".").CombinedOutput(); err != nil {
			iox2BinaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if iox2BinaryErr != nil {
		t.Fatalf("building iox2: %v", iox2BinaryErr)
	}
	return iox2BinaryPath
}

// --- peers ---

// inspectPeerHook runs the peer named by $IOX2_INSPECT_PEER instead of the
// tests (from init, so that no TestMain is needed for it).
func inspectPeerHook() {
	roles := os.Getenv(inspectPeerEnv)
	if roles == "" {
		return
	}
	if err := inspectPeer(os.Getenv(inspectNameEnv), strings.Split(roles, ",")); err != nil {
		fmt.Fprintf(os.Stderr, "inspect inspectProc %s: %v\n", roles, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// inspectPeer creates a node named name in the domain of iox2test's
// environment, opens the ports of roles with the generated code of
// examples/gen/robot, prints "ready <node id>" and waits until its stdin
// closes; then it closes the node.
func inspectPeer(name string, roles []string) error {
	cfg := iox2test.ConfigFromEnv()
	if cfg == nil {
		return errors.New("no domain in the environment")
	}
	node, err := iox2.NewNodeBuilder().Name(name).Config(cfg).SignalHandling(false).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	var keep []any // ports and services stay open until the end
	for _, role := range roles {
		var port any
		var err error
		switch role {
		case "imu-pub", "imu-sub":
			svc, e := robot.OpenOrCreateImu(node)
			if e != nil {
				return e
			}
			keep = append(keep, svc)
			if role == "imu-pub" {
				port, err = robot.ImuPublisher(svc).Create()
			} else {
				port, err = robot.ImuSubscriber(svc).Create()
			}
		case "points-pub":
			svc, e := robot.OpenOrCreatePoints(node)
			if e != nil {
				return e
			}
			keep = append(keep, svc)
			port, err = robot.PointsPublisher(svc).Create()
		case "alarm-notifier", "alarm-listener":
			svc, e := robot.OpenOrCreateAlarm(node)
			if e != nil {
				return e
			}
			keep = append(keep, svc)
			if role == "alarm-notifier" {
				port, err = robot.AlarmNotifier(svc).Create()
			} else {
				port, err = robot.AlarmListener(svc).Create()
			}
		case "plan-server", "plan-client":
			svc, e := robot.OpenOrCreatePlan(node)
			if e != nil {
				return e
			}
			keep = append(keep, svc)
			if role == "plan-server" {
				port, err = robot.PlanServer(svc).Create()
			} else {
				port, err = robot.PlanClient(svc).Create()
			}
		case "plain-pub":
			svc, e := iox2.PublishSubscribe[plainSample](node, "plain/sample").OpenOrCreate()
			if e != nil {
				return e
			}
			keep = append(keep, svc)
			port, err = svc.PublisherBuilder().Create()
		default:
			return fmt.Errorf("unknown role %q", role)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", role, err)
		}
		keep = append(keep, port)
	}
	fmt.Printf("ready %s\n", node.ID())
	io.Copy(io.Discard, os.Stdin)
	runtime.KeepAlive(keep)
	return nil
}

// plainSample is a payload type without generated code: the runtime
// derives its layout by reflection.
type plainSample struct {
	Seq  uint64
	Mode uint8
	_    [7]byte
	Raw  [2]int64
	Pos  struct{ X, Y float64 }
}

// inspectProc is a running peer process.
type inspectProc struct {
	name  string
	id    string // its node's ID
	pid   int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	errs  bytes.Buffer
}

// startInspectPeer starts a peer with node name and roles in cfg's domain and
// waits until its ports exist. The peer ends in t's cleanup: stdin closed,
// killed after 10 s.
func startInspectPeer(t *testing.T, cfg *iox2.Config, name string, roles ...string) *inspectProc {
	t.Helper()
	p := &inspectProc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(append(os.Environ(), iox2test.HelperEnv(cfg)...),
		inspectPeerEnv+"="+strings.Join(roles, ","), inspectNameEnv+"="+name)
	p.cmd.Stderr = &p.errs
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.pid = p.cmd.Process.Pid
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- id
			}
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case p.id = <-ready:
	case <-p.done:
		t.Fatalf("peer %s exited before it was ready: %s", name, p.errs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("peer %s not ready after 20 s: %s", name, p.errs.String())
	}
	return p
}

// stop ends the peer: it closes its node when its stdin closes.
func (p *inspectProc) stop(t *testing.T) {
	p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("peer %s did not exit after its stdin closed; killing it", p.name)
		p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the peer with SIGKILL, leaving its resources behind.
func (p *inspectProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// --- running iox2 ---

// inspectResult is the outcome of one iox2 process.
type inspectResult struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r inspectResult) String() string {
	return fmt.Sprintf("iox2 %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// inspectRun runs the iox2 binary with args in cfg's domain (nil: no domain
// flags) and returns what it did.
func inspectRun(t *testing.T, cfg *iox2.Config, args ...string) inspectResult {
	t.Helper()
	return inspectRunEnv(t, nil, cfg, args...)
}

// inspectRunEnv is inspectRun with env added to the process's environment.
// Without env, $IOX2GO_CONFIG is empty and the user's configuration
// directory ($XDG_CONFIG_HOME) is one without a configuration file, so
// that only the flags choose the configuration.
func inspectRunEnv(t *testing.T, env []string, cfg *iox2.Config, args ...string) inspectResult {
	t.Helper()
	bin := inspectBin(t)
	if cfg != nil {
		args = append([]string{"--root", cfg.Root, "--prefix", cfg.Prefix}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append(os.Environ(), "IOX2GO_CONFIG=", "XDG_CONFIG_HOME="+filepath.Dir(bin)), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := inspectResult{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("iox2 %v: %v", args, err)
	}
	return r
}

// inspectOK runs iox2 and fails t unless it exits 0.
func inspectOK(t *testing.T, cfg *iox2.Config, args ...string) string {
	t.Helper()
	r := inspectRun(t, cfg, args...)
	if r.code != 0 {
		t.Fatalf("want exit code 0: %v", r)
	}
	return r.stdout
}

// inspectJSON runs iox2 with --json and decodes its output into v.
func inspectJSON(t *testing.T, cfg *iox2.Config, v any, args ...string) {
	t.Helper()
	out := inspectOK(t, cfg, append(args, "--json")...)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("iox2 %v --json: %v\n%s", args, err, out)
	}
}

// --- goldens ---

var (
	inspectTimeRe   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	inspectHex16Re  = regexp.MustCompile(`^[0-9a-f]{16}$`)
	inspectHexRunRe = regexp.MustCompile(`[0-9a-f]+`)
	inspectSpacesRe = regexp.MustCompile(`(\S) {2,}`)
)

// inspectNormalize replaces what changes from run to run in out: the peers' node
// IDs and PIDs (by <name-id> and <name-pid>), the domain's root and prefix,
// the test binary's path, times, other IDs (ports, service uids) and the
// runtime version; and makes every run of spaces after a word two wide,
// since table columns change width with the values.
func inspectNormalize(out string, cfg *iox2.Config, peers ...*inspectProc) string {
	for _, p := range peers {
		out = strings.ReplaceAll(out, p.id, "<"+p.name+"-id>")
		out = regexp.MustCompile(`\b`+strconv.Itoa(p.pid)+`\b`).ReplaceAllString(out, "<"+p.name+"-pid>")
	}
	exe, _ := filepath.Abs(os.Args[0])
	out = strings.ReplaceAll(out, exe, "<test-binary>")
	out = strings.ReplaceAll(out, cfg.Root, "<root>")
	out = strings.ReplaceAll(out, cfg.Prefix, "<prefix>")
	out = strings.ReplaceAll(out, `"version": "`+iox2.Version+`"`, `"version": "<version>"`)
	out = regexp.MustCompile(`\b`+regexp.QuoteMeta(iox2.Version)+`\b`).ReplaceAllString(out, "<version>")
	out = inspectTimeRe.ReplaceAllString(out, "<time>")
	out = inspectHexRunRe.ReplaceAllStringFunc(out, func(h string) string {
		if len(h) == 16 {
			return "<id>"
		}
		return h
	})
	return inspectSpacesRe.ReplaceAllString(out, "$1  ")
}

// inspectGolden compares got with testdata/name, or writes it with -update.
func inspectGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updateGoldens() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("output differs from %s (-update rewrites it):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// inspectCheckNoShm fails t if anything with cfg's prefix is in /dev/shm.
func inspectCheckNoShm(t *testing.T, cfg *iox2.Config) {
	t.Helper()
	if left, _ := filepath.Glob(filepath.Join(cfg.ShmDir, cfg.Prefix+"*")); len(left) > 0 {
		t.Errorf("left in %s: %v", cfg.ShmDir, left)
	}
}

// --- JSON shapes, as documented in docs/CLI.md ---

type inspectNodesOut struct {
	Num   int `json:"num"`
	Nodes []struct {
		ID         string     `json:"id"`
		State      string     `json:"state"`
		PID        int        `json:"pid"`
		Name       string     `json:"name"`
		Executable string     `json:"executable"`
		Created    *time.Time `json:"created"`
		Version    string     `json:"version"`
		Services   []struct {
			Name    string `json:"name"`
			Pattern string `json:"pattern"`
			Hash    string `json:"hash"`
			Ports   []struct {
				Kind string `json:"kind"`
				ID   string `json:"id"`
			} `json:"ports"`
		} `json:"services"`
	} `json:"nodes"`
}

type inspectServicesOut struct {
	Num      int `json:"num"`
	Services []struct {
		Name    string         `json:"name"`
		Pattern string         `json:"pattern"`
		Hash    string         `json:"hash"`
		UID     string         `json:"uid"`
		Payload string         `json:"payload"`
		Nodes   int            `json:"nodes"`
		Ports   map[string]int `json:"ports"`
	} `json:"services"`
}

type inspectTypeOut struct {
	Name         string `json:"name"`
	Size         uint64 `json:"size"`
	Align        uint64 `json:"align"`
	LayoutHash   string `json:"layout_hash"`
	Variant      string `json:"variant"`
	LayoutFormat string `json:"layout_format"`
	Fields       []struct {
		Name    string `json:"name"`
		Offset  uint64 `json:"offset"`
		Size    uint64 `json:"size"`
		Type    string `json:"type"`
		Padding bool   `json:"padding"`
	} `json:"fields"`
	Structs []struct {
		Name   string            `json:"name"`
		Size   uint64            `json:"size"`
		Align  uint64            `json:"align"`
		Fields []json.RawMessage `json:"fields"`
	} `json:"structs"`
	Enums []struct {
		Name   string `json:"name"`
		Type   string `json:"type"`
		Values []struct {
			Name  string `json:"name"`
			Value int64  `json:"value"`
		} `json:"values"`
	} `json:"enums"`
	Layout string `json:"layout"`
}

type inspectNodeRefOut struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	State string `json:"state"`
}

type inspectDetailsOut struct {
	Num      int `json:"num"`
	Services []struct {
		Name       string `json:"name"`
		Pattern    string `json:"pattern"`
		Hash       string `json:"hash"`
		UID        string `json:"uid"`
		Version    string `json:"version"`
		Attributes []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"attributes"`
		QoS        map[string]any      `json:"qos"`
		Payload    *inspectTypeOut     `json:"payload"`
		UserHeader *inspectTypeOut     `json:"user_header"`
		Request    *inspectTypeOut     `json:"request"`
		Response   *inspectTypeOut     `json:"response"`
		Nodes      []inspectNodeRefOut `json:"nodes"`
		Ports      map[string][]struct {
			ID                string            `json:"id"`
			Node              inspectNodeRefOut `json:"node"`
			BufferSize        int               `json:"buffer_size"`
			HistoryRequest    int               `json:"history_request"`
			MaxActiveRequests int               `json:"max_active_requests"`
		} `json:"ports"`
	} `json:"services"`
}

type inspectCleanOut struct {
	DryRun          bool `json:"dry_run"`
	Cleaned         int  `json:"cleaned"`
	CleanedByOthers int  `json:"cleaned_by_others"`
	InProgress      int  `json:"in_progress"`
	KeptForRecv     int  `json:"kept_for_receivers"`
	Failed          int  `json:"failed"`
	Nodes           []struct {
		ID      string `json:"id"`
		PID     int    `json:"pid"`
		Name    string `json:"name"`
		Outcome string `json:"outcome"`
		Error   string `json:"error"`
		Cleaner *struct {
			PID  int    `json:"pid"`
			Node string `json:"node"`
		} `json:"cleaner"`
		Removed   bool     `json:"removed"`
		Files     []string `json:"files"`
		Remaining []string `json:"remaining"`
	} `json:"nodes"`
	Services []struct {
		Hash      string   `json:"hash"`
		Name      string   `json:"name"`
		Pattern   string   `json:"pattern"`
		Reason    string   `json:"reason"`
		HeldBy    []string `json:"held_by"`
		Removed   bool     `json:"removed"`
		Files     []string `json:"files"`
		Remaining []string `json:"remaining"`
	} `json:"services"`
}

// --- tests ---

// TestInspectNodesAndServices runs node list, node details, service list
// and service details against two live peers that share four services.
func TestInspectNodesAndServices(t *testing.T) {
	cfg := iox2test.Config(t)
	sensor := startInspectPeer(t, cfg, "sensor", "imu-pub", "alarm-notifier", "plan-server")
	monitor := startInspectPeer(t, cfg, "monitor", "imu-sub", "alarm-listener", "plan-client", "points-pub")
	norm := func(s string) string { return inspectNormalize(s, cfg, sensor, monitor) }

	// node list
	inspectGolden(t, "inspect_node_list.golden", norm(inspectOK(t, cfg, "node", "list")))
	var nl inspectNodesOut
	inspectJSON(t, cfg, &nl, "node", "list")
	if nl.Num != 2 || len(nl.Nodes) != 2 {
		t.Fatalf("node list --json: want 2 nodes, got %+v", nl)
	}
	for i, p := range []*inspectProc{sensor, monitor} {
		n := nl.Nodes[i]
		exe, _ := filepath.Abs(os.Args[0])
		if n.ID != p.id || n.State != "alive" || n.PID != p.pid || n.Name != p.name || n.Executable != exe ||
			n.Version != iox2.Version || n.Created == nil || time.Since(*n.Created) > time.Hour || n.Services != nil {
			t.Errorf("node list --json: node %d = %+v, want the %s inspectProc (id %s, pid %d, alive)", i, n, p.name, p.id, p.pid)
		}
	}
	inspectJSON(t, cfg, &nl, "node", "list", "--state", "dead")
	if nl.Num != 0 || nl.Nodes == nil || len(nl.Nodes) != 0 {
		t.Errorf("node list --state dead --json: want an empty list, got %+v", nl)
	}
	if out := inspectOK(t, cfg, "node", "list", "--state", "alive"); strings.Count(out, "alive") != 2 {
		t.Errorf("node list --state alive: want both nodes:\n%s", out)
	}

	// node details: by name, PID and ID
	inspectGolden(t, "inspect_node_details.golden", norm(inspectOK(t, cfg, "node", "details", "sensor")))
	for _, arg := range []string{strconv.Itoa(monitor.pid), monitor.id, "monitor"} {
		var nd inspectNodesOut
		inspectJSON(t, cfg, &nd, "node", "details", arg)
		if nd.Num != 1 || nd.Nodes[0].ID != monitor.id {
			t.Fatalf("node details %s --json: want the monitor node, got %+v", arg, nd)
		}
		got := map[string]string{}
		for _, s := range nd.Nodes[0].Services {
			var kinds []string
			for _, p := range s.Ports {
				kinds = append(kinds, p.Kind)
				if !inspectHex16Re.MatchString(p.ID) {
					t.Errorf("node details: port ID %q", p.ID)
				}
			}
			got[s.Name+" "+s.Pattern] = strings.Join(kinds, ",")
		}
		want := map[string]string{
			"robot/imu publish-subscribe":    "subscriber",
			"robot/alarm event":              "listener",
			"robot/plan request-response":    "client",
			"robot/points publish-subscribe": "publisher",
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("node details %s --json: services %v, want %v", arg, got, want)
		}
	}

	// service list
	inspectGolden(t, "inspect_service_list.golden", norm(inspectOK(t, cfg, "service", "list")))
	var sl inspectServicesOut
	inspectJSON(t, cfg, &sl, "service", "list")
	wantList := []string{
		"robot/alarm event - 2 map[listeners:1 notifiers:1]",
		"robot/imu publish-subscribe robot::Imu 2 map[publishers:1 subscribers:1]",
		"robot/plan request-response robot::PlanRequest -> robot::PlanResponse 2 map[clients:1 servers:1]",
		"robot/points publish-subscribe []robot::Vec3 1 map[publishers:1 subscribers:0]",
	}
	if sl.Num != len(wantList) || len(sl.Services) != len(wantList) {
		t.Fatalf("service list --json: want %d services, got %+v", len(wantList), sl)
	}
	for i, s := range sl.Services {
		if got := fmt.Sprintf("%s %s %s %d %v", s.Name, s.Pattern, s.Payload, s.Nodes, s.Ports); got != wantList[i] {
			t.Errorf("service list --json: service %d is %q, want %q", i, got, wantList[i])
		}
		if len(s.Hash) != 32 || !inspectHex16Re.MatchString(s.UID) {
			t.Errorf("service list --json: hash %q, uid %q", s.Hash, s.UID)
		}
	}
	// The JSON is not HTML-escaped: "->" stays "->".
	if out := inspectOK(t, cfg, "service", "list", "--json"); !strings.Contains(out, `"robot::PlanRequest -> robot::PlanResponse"`) || strings.Contains(out, `\u003e`) {
		t.Errorf("service list --json escapes \"->\":\n%s", out)
	}
	sl = inspectServicesOut{}
	inspectJSON(t, cfg, &sl, "service", "list", "--pattern", "event")
	if sl.Num != 1 || sl.Services[0].Name != "robot/alarm" {
		t.Errorf("service list --pattern event --json: want robot/alarm alone, got %+v", sl)
	}

	// service details
	var all strings.Builder
	for _, name := range []string{"robot/imu", "robot/points", "robot/alarm", "robot/plan"} {
		fmt.Fprintf(&all, "$ iox2 service details %s\n%s\n", name, inspectOK(t, cfg, "service", "details", name))
	}
	inspectGolden(t, "inspect_service_details.golden", norm(all.String()))

	details := func(name string) inspectDetailsOut {
		var sd inspectDetailsOut
		inspectJSON(t, cfg, &sd, "service", "details", name)
		if sd.Num != 1 || len(sd.Services) != 1 {
			t.Fatalf("service details %s --json: want 1 service, got %+v", name, sd)
		}
		return sd
	}
	sd := details("robot/imu")
	if sd.Num != 1 {
		t.Fatalf("service details robot/imu --json: want 1 service, got %d", sd.Num)
	}
	imu := sd.Services[0]
	if imu.Pattern != "publish-subscribe" || imu.Version != fmt.Sprint(iox2.ProtocolVersion) || imu.QoS["history_size"] != 4.0 ||
		imu.QoS["subscriber_max_buffer_size"] != 16.0 || imu.QoS["enable_safe_overflow"] != true ||
		fmt.Sprint(imu.Attributes) != "[{rate_hz 200} {frame base_link}]" {
		t.Errorf("service details robot/imu --json: %+v", imu)
	}
	if p := imu.Payload; p == nil || p.Name != "robot::Imu" || p.Size != 1688 || p.Align != 8 ||
		p.LayoutHash != robot.ImuTypeInfo.LayoutHash || p.Variant != "fixed" || p.LayoutFormat != "iox2-layout/1" ||
		len(p.Fields) != 12 || p.Fields[1].Name != "mode" || p.Fields[1].Offset != 8 || p.Fields[1].Type != "robot::Mode" ||
		!p.Fields[3].Padding || p.Fields[3].Offset != 10 || p.Fields[3].Size != 6 ||
		len(p.Structs) != 1 || p.Structs[0].Name != "robot::Vec3" || len(p.Structs[0].Fields) != 3 ||
		len(p.Enums) != 1 || p.Enums[0].Name != "robot::Mode" || len(p.Enums[0].Values) != 3 || p.Enums[0].Values[2].Value != 7 ||
		p.Layout != robot.ImuTypeInfo.Layout {
		t.Errorf("service details robot/imu --json: payload %+v", p)
	}
	// Every field has the padding key, false but for padding; every
	// subscriber buffer_size and history_request.
	var raw bytes.Buffer
	if err := json.Compact(&raw, []byte(inspectOK(t, cfg, "service", "details", "robot/imu", "--json"))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`{"name":"stamp_ns","offset":0,"size":8,"type":"uint64","padding":false}`,
		`{"name":"","offset":10,"size":6,"type":"","padding":true}`, `"buffer_size":8,"history_request":2}`,
		`"type":"string<32>"`} {
		if !strings.Contains(raw.String(), want) {
			t.Errorf("service details robot/imu --json lacks %s:\n%s", want, raw.String())
		}
	}
	pubs, subs := imu.Ports["publishers"], imu.Ports["subscribers"]
	if len(pubs) != 1 || pubs[0].Node != (inspectNodeRefOut{sensor.id, "sensor", sensor.pid, "alive"}) ||
		len(subs) != 1 || subs[0].Node != (inspectNodeRefOut{monitor.id, "monitor", monitor.pid, "alive"}) ||
		subs[0].BufferSize != 8 || subs[0].HistoryRequest != 2 || len(imu.Nodes) != 2 {
		t.Errorf("service details robot/imu --json: ports %+v, nodes %+v", imu.Ports, imu.Nodes)
	}
	sd = details("robot/plan")
	plan := sd.Services[0]
	if plan.Request == nil || plan.Request.Name != "robot::PlanRequest" || plan.Response == nil ||
		plan.Response.Name != "robot::PlanResponse" || len(plan.Ports["clients"]) != 1 || len(plan.Ports["servers"]) != 1 ||
		plan.Ports["clients"][0].MaxActiveRequests != 2 || plan.QoS["max_servers"] != 1.0 {
		t.Errorf("service details robot/plan --json: %+v", plan)
	}
	sd = details("robot/alarm")
	alarm := sd.Services[0]
	if alarm.Payload != nil || alarm.QoS["notifier_dead_event"] != 15.0 || alarm.QoS["notifier_created_event"] != nil ||
		len(alarm.Ports["notifiers"]) != 1 || len(alarm.Ports["listeners"]) != 1 {
		t.Errorf("service details robot/alarm --json: %+v", alarm)
	}
	sd = details("robot/points")
	if pts := sd.Services[0]; pts.Payload == nil || pts.Payload.Variant != "dynamic" || pts.UserHeader == nil ||
		pts.UserHeader.Name != "robot::Stamp" || len(pts.UserHeader.Fields) != 3 {
		t.Errorf("service details robot/points --json: %+v", pts)
	}

	// Not found: exit 3, also with a pattern that the name does not have.
	for _, args := range [][]string{
		{"service", "details", "robot/nothing"},
		{"service", "details", "robot/imu", "--pattern", "event"},
		{"node", "details", "nobody"},
		{"node", "details", "0123456789abcdef"},
	} {
		if r := inspectRun(t, cfg, args...); r.code != exitNotFound || !strings.Contains(r.stderr, "iox2: no ") || r.stdout != "" {
			t.Errorf("want exit code 3 and a message: %v", r)
		}
	}
	// The error is JSON with --json.
	r := inspectRun(t, cfg, "service", "details", "robot/nothing", "--json")
	var je struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(r.stderr), &je); err != nil || je.ExitCode != 3 || !strings.Contains(je.Error, "robot/nothing") {
		t.Errorf("service details --json of a missing service: %v (%v)", r, err)
	}

	// When the peers are gone, so are their nodes and services.
	sensor.stop(t)
	monitor.stop(t)
	if out := inspectOK(t, cfg, "node", "list"); !strings.HasPrefix(out, "no nodes") {
		t.Errorf("node list after the peers closed their nodes:\n%s", out)
	}
	if out := inspectOK(t, cfg, "service", "list"); !strings.HasPrefix(out, "no services") {
		t.Errorf("service list after the peers closed their nodes:\n%s", out)
	}
	if out := inspectOK(t, cfg, "clean"); out != "nothing to clean\n" {
		t.Errorf("clean with nothing dead: %q", out)
	}
	inspectCheckNoShm(t, cfg)
}

// TestInspectCleanAfterKill kills a peer and checks that node list shows
// its node dead, clean --dry-run lists its files without removing them,
// and clean removes every one of them. No node is created in the domain
// between the kill and the clean (that would clean up by itself), and the
// victim is alone, since a live peer's discovery would clean it too.
func TestInspectCleanAfterKill(t *testing.T) {
	cfg := iox2test.Config(t)
	victim := startInspectPeer(t, cfg, "victim", "imu-pub", "imu-sub", "alarm-notifier", "alarm-listener", "plan-server", "plan-client")
	norm := func(s string) string { return inspectNormalize(s, cfg, victim) }
	domainFiles := func() []string {
		var files []string
		for _, pat := range []string{
			filepath.Join(cfg.ShmDir, cfg.Prefix+"*"),
			filepath.Join(cfg.Root, "nodes", "*"),
			filepath.Join(cfg.Root, "nodes", "*", "*"),
			filepath.Join(cfg.Root, "services", "*"),
		} {
			m, _ := filepath.Glob(pat)
			files = append(files, m...)
		}
		return files
	}
	// Connections are made by the nodes' dispatchers: wait for all three
	// (imu; plan's requests and responses) so that the files are the same
	// in every run.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		conns, _ := filepath.Glob(filepath.Join(cfg.ShmDir, cfg.Prefix+"*.connection"))
		if len(conns) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the victim has %d connections after 10 s, want 3: %v", len(conns), conns)
		}
	}
	victim.kill(t)
	before := domainFiles()
	if len(before) == 0 {
		t.Fatal("the killed inspectProc left nothing behind")
	}

	var nl inspectNodesOut
	inspectJSON(t, cfg, &nl, "node", "list")
	if nl.Num != 1 || nl.Nodes[0].ID != victim.id || nl.Nodes[0].State != "dead" || nl.Nodes[0].PID != victim.pid {
		t.Fatalf("node list --json after the kill: want the victim dead, got %+v", nl)
	}
	inspectGolden(t, "inspect_node_list_dead.golden", norm(inspectOK(t, cfg, "node", "list", "--state", "dead")))
	var sd inspectDetailsOut
	inspectJSON(t, cfg, &sd, "service", "details", "robot/imu")
	if sd.Num != 1 || len(sd.Services[0].Ports["publishers"]) != 1 ||
		sd.Services[0].Ports["publishers"][0].Node != (inspectNodeRefOut{victim.id, "victim", victim.pid, "dead"}) {
		t.Errorf("service details --json after the kill: want the victim's publisher, its node dead: %+v", sd)
	}

	var dry inspectCleanOut
	inspectJSON(t, cfg, &dry, "clean", "--dry-run")
	if !dry.DryRun || dry.Cleaned != 0 || len(dry.Nodes) != 1 || dry.Nodes[0].ID != victim.id || dry.Nodes[0].Name != "victim" {
		t.Fatalf("clean --dry-run --json: %+v", dry)
	}
	listed := map[string]bool{}
	for _, f := range dry.Nodes[0].Files {
		listed[f] = true
	}
	for _, f := range before {
		if !listed[f] {
			t.Errorf("clean --dry-run does not list %s", f)
		}
	}
	if after := domainFiles(); len(after) != len(before) {
		t.Fatalf("clean --dry-run removed files: %d before, %d after", len(before), len(after))
	}
	// The files are sorted by name, and names hold random IDs: sort again
	// after replacing them.
	dryText := strings.Split(strings.TrimSuffix(norm(inspectOK(t, cfg, "clean", "--dry-run")), "\n"), "\n")
	sort.Strings(dryText[1:])
	inspectGolden(t, "inspect_clean_dry_run.golden", strings.Join(dryText, "\n")+"\n")

	out := inspectOK(t, cfg, "clean")
	want := fmt.Sprintf("removed node %s (pid %d, name victim): %d files\n", victim.id, victim.pid, len(before))
	if out != want {
		t.Errorf("clean printed %q, want %q", out, want)
	}
	if left := domainFiles(); len(left) > 0 {
		t.Errorf("clean left %v", left)
	}
	if out := inspectOK(t, cfg, "node", "list"); !strings.HasPrefix(out, "no nodes") {
		t.Errorf("node list after clean:\n%s", out)
	}
	if out := inspectOK(t, cfg, "clean"); out != "nothing to clean\n" {
		t.Errorf("second clean: %q", out)
	}
	inspectCheckNoShm(t, cfg)
}

// TestInspectCleanJSON checks clean --json after a kill.
func TestInspectCleanJSON(t *testing.T) {
	cfg := iox2test.Config(t)
	victim := startInspectPeer(t, cfg, "victim", "imu-pub", "alarm-listener")
	victim.kill(t)
	var c inspectCleanOut
	inspectJSON(t, cfg, &c, "clean")
	if c.DryRun || c.Cleaned != 1 || c.Failed != 0 || c.CleanedByOthers != 0 || c.InProgress != 0 ||
		len(c.Nodes) != 1 || !c.Nodes[0].Removed || c.Nodes[0].Outcome != "removed" || c.Nodes[0].Error != "" || c.Nodes[0].Cleaner != nil ||
		c.Nodes[0].ID != victim.id || c.Nodes[0].PID != victim.pid || len(c.Nodes[0].Remaining) != 0 {
		t.Fatalf("clean --json: %+v", c)
	}
	var kinds []string
	for _, f := range c.Nodes[0].Files {
		kinds = append(kinds, filepath.Ext(f))
	}
	for _, want := range []string{".lock", ".json", ".svc", ".data", ".event", ".dynamic", ".service"} {
		if !strings.Contains(strings.Join(kinds, " "), want) {
			t.Errorf("clean --json: no %s file among %v", want, c.Nodes[0].Files)
		}
	}
	inspectCheckNoShm(t, cfg)
}

// TestInspectSameName checks that node details shows every node with the
// name it is given.
func TestInspectSameName(t *testing.T) {
	cfg := iox2test.Config(t)
	a := startInspectPeer(t, cfg, "twin", "alarm-notifier")
	b := startInspectPeer(t, cfg, "twin", "alarm-listener")
	var nd inspectNodesOut
	inspectJSON(t, cfg, &nd, "node", "details", "twin")
	if nd.Num != 2 || nd.Nodes[0].ID != a.id || nd.Nodes[1].ID != b.id ||
		nd.Nodes[0].Services[0].Ports[0].Kind != "notifier" || nd.Nodes[1].Services[0].Ports[0].Kind != "listener" {
		t.Errorf("node details twin --json: %+v", nd)
	}
	out := inspectOK(t, cfg, "node", "details", "twin")
	if strings.Count(out, "Node ") != 2 || !strings.Contains(out, a.id) || !strings.Contains(out, b.id) {
		t.Errorf("node details twin:\n%s", out)
	}
}

// TestInspectPlainType checks the field layout of a payload type that the
// runtime described by reflection (the generic API without iox2gen).
func TestInspectPlainType(t *testing.T) {
	cfg := iox2test.Config(t)
	startInspectPeer(t, cfg, "plain", "plain-pub")
	var sd inspectDetailsOut
	inspectJSON(t, cfg, &sd, "service", "details", "plain/sample")
	if sd.Num != 1 || sd.Services[0].Payload == nil {
		t.Fatalf("service details plain/sample --json: %+v", sd)
	}
	p := sd.Services[0].Payload
	var fields []string
	for _, f := range p.Fields {
		fields = append(fields, fmt.Sprintf("%s %d %d %s %v", f.Name, f.Offset, f.Size, f.Type, f.Padding))
	}
	want := "[Seq 0 8 uint64 false|Mode 8 1 uint8 false| 9 7  true|Raw 16 16 int64[2] false|Pos 32 16 struct false]"
	if got := "[" + strings.Join(fields, "|") + "]"; got != want || p.Size != 48 || p.LayoutFormat != "" ||
		len(p.Structs) != 1 || p.Structs[0].Name != "Pos" || len(p.Structs[0].Fields) != 2 {
		t.Errorf("plain/sample payload: fields %s, want %s; %+v", got, want, p)
	}
	out := inspectOK(t, cfg, "service", "details", "plain/sample")
	if !strings.Contains(out, "  struct Pos (size 16, align 8):\n") {
		t.Errorf("service details plain/sample:\n%s", out)
	}
}

// TestInspectUsageErrors checks exit code 2 for wrong command lines.
func TestInspectUsageErrors(t *testing.T) {
	cfg := iox2test.Config(t)
	for _, args := range [][]string{
		{"node", "list", "--state", "sleepy"},
		{"node", "list", "extra"},
		{"node", "details"},
		{"node", "details", "a", "b"},
		{"service", "list", "--pattern", "gossip"},
		{"service", "details"},
		{"service", "details", "x", "--pattern", "nope"},
		{"clean", "--force"},
		{"clean", "now"},
		{"node", "frobnicate"},
	} {
		if r := inspectRun(t, cfg, args...); r.code != exitUsage || !strings.Contains(r.stderr, "iox2: ") {
			t.Errorf("want exit code 2 and a message: %v", r)
		}
	}
}

// TestInspectHelp checks that --help of every command exits 0 and shows
// its usage line, through the binary.
func TestInspectHelp(t *testing.T) {
	for _, c := range commands {
		args := append(strings.Fields(c.path), "--help")
		r := inspectRun(t, nil, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: iox2 "+c.path) {
			t.Errorf("want exit code 0 and Usage: iox2 %s: %v", c.path, r)
		}
	}
}
