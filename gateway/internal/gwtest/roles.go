package gwtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iox2go/iox2go/examples/gen/robot"
	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// The roles of the peer processes. A peer prints {"kind":"ready"} once its
// ports exist, then one JSON line (a Msg) per event, and reads commands
// from stdin, one per line; the end of stdin ends it cleanly (ports and
// node closed). Publishers number their samples from 1 per publisher;
// a "warm" sample (number 0) only shows that the route is open.

const (
	envRole = "GWTEST_ROLE"
	// EnvPub is the number that identifies a publisher (or notifier, or
	// client) in the samples it sends.
	EnvPub = "GWTEST_PUB"
	// EnvListen is the address the nats-server role listens on.
	EnvListen = "GWTEST_LISTEN"
)

// Msg is one line of a peer's output.
type Msg struct {
	Kind  string `json:"kind"` // ready, warm, imu, points, event, resp, vec, sent, notified, error, text
	Pub   uint32 `json:"pub,omitempty"`
	Seq   uint64 `json:"seq,omitempty"`
	ID    uint64 `json:"id,omitempty"`
	Count uint64 `json:"count,omitempty"`
	N     int    `json:"n,omitempty"`
	Port  int    `json:"port,omitempty"`
	Err   string `json:"err,omitempty"`
	Text  string `json:"text,omitempty"`
}

var (
	outMu sync.Mutex
	out   = json.NewEncoder(os.Stdout)
)

func emit(m Msg) {
	outMu.Lock()
	defer outMu.Unlock()
	out.Encode(m)
}

var roles = map[string]func(ctx context.Context, node *iox2.Node, cmds <-chan []string) error{
	"imu-pub":      imuPub,
	"imu-sub":      imuSub,
	"points-pub":   pointsPub,
	"points-sub":   pointsSub,
	"alarm-notify": alarmNotify,
	"alarm-listen": alarmListen,
	"plan-server":  planServer,
	"plan-client":  planClient,
	"vec-sub":      vecSub,
}

func runRole(role string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmds := make(chan []string, 16)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) > 0 {
				cmds <- f
			}
		}
		cancel()
	}()
	if role == "nats-server" {
		return natsServer(ctx)
	}
	fn, ok := roles[role]
	cfg := iox2test.ConfigFromEnv()
	if !ok || cfg == nil {
		fmt.Fprintf(os.Stderr, "gwtest: unknown role %q or no domain in the environment\n", role)
		return 2
	}
	node, err := iox2.NewNodeBuilder().Name("gwtest-" + role).Config(cfg).SignalHandling(false).Create()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gwtest %s: %v\n", role, err)
		return 1
	}
	err = fn(ctx, node, cmds)
	if cerr := node.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "gwtest %s: %v\n", role, err)
		emit(Msg{Kind: "error", Err: err.Error()})
		return 1
	}
	return 0
}

func natsServer(ctx context.Context) int {
	s, err := NewNATSServer(os.Getenv(EnvListen), -1)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, p, _ := net.SplitHostPort(s.Addr().String())
	port, _ := strconv.Atoi(p)
	emit(Msg{Kind: "ready", Port: port})
	<-ctx.Done()
	s.Shutdown()
	s.WaitForShutdown()
	return 0
}

func pubID() uint32 {
	n, _ := strconv.ParseUint(os.Getenv(EnvPub), 10, 32)
	return uint32(n)
}

// FillImu writes sample seq of publisher pub: every field derives from
// both. Seq 0 is a warm-up sample.
func FillImu(m *robot.Imu, pub uint32, seq uint64) {
	*m = robot.Imu{}
	m.StampNs = seq
	m.Mode = []robot.Mode{robot.ModeIdle, robot.ModeActive, robot.ModeFault}[seq%3]
	m.Calibrated = seq%2 == 1
	m.Frame.Set(fmt.Sprintf("p%d-s%d", pub, seq))
	m.Accel = robot.Vec3{X: float64(seq), Y: -1.5, Z: math.Pi}
	m.Gyro = robot.Vec3{X: 0.25, Y: float64(seq) / 4, Z: float64(pub)}
	for i := range m.Raw {
		for j := range m.Raw[i] {
			m.Raw[i][j] = int16(seq) - int16(i*4+j) - int16(pub)*100
		}
	}
	m.Status = uint8(pub)
	m.Temperature = 20 + float64(seq%10)/8
	for k := uint64(0); k < seq%65; k++ {
		m.Points.Push(robot.Vec3{X: float64(seq), Y: float64(k), Z: float64(pub)})
	}
}

// checkImu verifies every field of a sample written by FillImu.
func checkImu(m *robot.Imu) error {
	var want robot.Imu
	FillImu(&want, uint32(m.Status), m.StampNs)
	if m.Mode != want.Mode || m.Calibrated != want.Calibrated || m.Frame.String() != want.Frame.String() ||
		m.Accel != want.Accel || m.Gyro != want.Gyro || m.Raw != want.Raw || m.Status != want.Status ||
		m.Temperature != want.Temperature || m.Points.Len() != want.Points.Len() {
		return fmt.Errorf("robot/imu sample %d of publisher %d: fields differ: %+v", m.StampNs, m.Status, *m)
	}
	for k, p := range m.Points.Slice() {
		if p != *want.Points.At(k) {
			return fmt.Errorf("robot/imu sample %d of publisher %d: point %d is %v", m.StampNs, m.Status, k, p)
		}
	}
	return nil
}

// publishLoop runs the commands of a publisher role: "warm" sends a
// warm-up sample every 50ms until the next command; "go N INTERVAL" sends
// the next N samples INTERVAL apart and prints {"kind":"sent"}.
func publishLoop(ctx context.Context, cmds <-chan []string, send func(seq uint64) error) error {
	var seq uint64
	var tick <-chan time.Time
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if err := send(0); err != nil {
				return err
			}
		case c := <-cmds:
			tick = nil
			switch c[0] {
			case "stop":
			case "warm":
				tick = ticker.C
			case "go":
				n, _ := strconv.Atoi(c[1])
				interval, _ := time.ParseDuration(c[2])
				for range n {
					seq++
					if err := send(seq); err != nil {
						return err
					}
					time.Sleep(interval)
				}
				emit(Msg{Kind: "sent", N: n, Seq: seq})
			default:
				return fmt.Errorf("unknown command %q", c)
			}
		}
	}
}

func imuPub(ctx context.Context, node *iox2.Node, cmds <-chan []string) error {
	svc, err := robot.OpenOrCreateImu(node)
	if err != nil {
		return err
	}
	defer svc.Close()
	pub, err := robot.ImuPublisher(svc).Create()
	if err != nil {
		return err
	}
	defer pub.Close()
	id := pubID()
	emit(Msg{Kind: "ready"})
	return publishLoop(ctx, cmds, func(seq uint64) error {
		s, err := pub.Loan()
		if err != nil {
			return err
		}
		FillImu(s.Payload(), id, seq)
		_, err = s.Send()
		return err
	})
}

func imuSub(ctx context.Context, node *iox2.Node, _ <-chan []string) error {
	svc, err := robot.OpenOrCreateImu(node)
	if err != nil {
		return err
	}
	defer svc.Close()
	sub, err := robot.ImuSubscriber(svc).Create()
	if err != nil {
		return err
	}
	defer sub.Close()
	emit(Msg{Kind: "ready"})
	for s, err := range sub.Samples(ctx) {
		if err != nil {
			return err
		}
		m := s.Payload()
		if m.StampNs == 0 {
			emit(Msg{Kind: "warm", Pub: uint32(m.Status)})
			continue
		}
		out := Msg{Kind: "imu", Pub: uint32(m.Status), Seq: m.StampNs}
		if err := checkImu(m); err != nil {
			out.Err = err.Error()
		}
		emit(out)
	}
	return nil
}

// points samples: seq%5+1 elements {pub, seq, i}; user header
// {seq*1000+7, seq, pub}. Seq 0 is a warm-up sample.
func pointsPub(ctx context.Context, node *iox2.Node, cmds <-chan []string) error {
	svc, err := robot.OpenOrCreatePoints(node)
	if err != nil {
		return err
	}
	defer svc.Close()
	pub, err := robot.PointsPublisher(svc).Create()
	if err != nil {
		return err
	}
	defer pub.Close()
	id := pubID()
	emit(Msg{Kind: "ready"})
	return publishLoop(ctx, cmds, func(seq uint64) error {
		n := int(seq%5) + 1
		s, err := pub.LoanSlice(n)
		if err != nil {
			return err
		}
		for i, p := range s.PayloadSlice() {
			_ = p
			s.PayloadSlice()[i] = robot.Vec3{X: float64(id), Y: float64(seq), Z: float64(i)}
		}
		*iox2.UserHeader[robot.Stamp](s) = robot.Stamp{StampNs: seq*1000 + 7, Seq: uint32(seq), SensorId: id}
		_, err = s.Send()
		return err
	})
}

func pointsSub(ctx context.Context, node *iox2.Node, _ <-chan []string) error {
	svc, err := robot.OpenOrCreatePoints(node)
	if err != nil {
		return err
	}
	defer svc.Close()
	sub, err := robot.PointsSubscriber(svc).Create()
	if err != nil {
		return err
	}
	defer sub.Close()
	emit(Msg{Kind: "ready"})
	for s, err := range sub.Samples(ctx) {
		if err != nil {
			return err
		}
		h := iox2.UserHeader[robot.Stamp](s)
		if h == nil {
			emit(Msg{Kind: "points", Err: "no user header"})
			continue
		}
		if h.Seq == 0 {
			emit(Msg{Kind: "warm", Pub: h.SensorId})
			continue
		}
		seq := uint64(h.Seq)
		out := Msg{Kind: "points", Pub: h.SensorId, Seq: seq}
		pl := s.PayloadSlice()
		if h.StampNs != seq*1000+7 {
			out.Err = fmt.Sprintf("header %+v", *h)
		} else if len(pl) != int(seq%5)+1 {
			out.Err = fmt.Sprintf("%d elements, want %d", len(pl), seq%5+1)
		} else {
			for i, p := range pl {
				if p != (robot.Vec3{X: float64(h.SensorId), Y: float64(seq), Z: float64(i)}) {
					out.Err = fmt.Sprintf("element %d is %v", i, p)
					break
				}
			}
		}
		emit(out)
	}
	return nil
}

// alarmNotify: "notify ID COUNT" sends COUNT notifications of ID (10ms
// apart) and prints {"kind":"notified"}; "warm" notifies id 0 every 100ms
// until the next command.
func alarmNotify(ctx context.Context, node *iox2.Node, cmds <-chan []string) error {
	svc, err := robot.OpenOrCreateAlarm(node)
	if err != nil {
		return err
	}
	defer svc.Close()
	n, err := robot.AlarmNotifier(svc).Create()
	if err != nil {
		return err
	}
	defer n.Close()
	emit(Msg{Kind: "ready"})
	var tick <-chan time.Time
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if _, err := n.NotifyWithCustomEventID(0); err != nil {
				return err
			}
		case c := <-cmds:
			tick = nil
			switch c[0] {
			case "stop":
			case "warm":
				tick = ticker.C
			case "notify":
				id, _ := strconv.Atoi(c[1])
				count, _ := strconv.Atoi(c[2])
				for range count {
					if _, err := n.NotifyWithCustomEventID(iox2.EventID(id)); err != nil {
						return err
					}
					time.Sleep(10 * time.Millisecond)
				}
				emit(Msg{Kind: "notified", ID: uint64(id), Count: uint64(count)})
			default:
				return fmt.Errorf("unknown command %q", c)
			}
		}
	}
}

func alarmListen(ctx context.Context, node *iox2.Node, _ <-chan []string) error {
	svc, err := robot.OpenOrCreateAlarm(node)
	if err != nil {
		return err
	}
	defer svc.Close()
	l, err := robot.AlarmListener(svc).Create()
	if err != nil {
		return err
	}
	defer l.Close()
	emit(Msg{Kind: "ready"})
	for a, err := range l.Events(ctx) {
		if err != nil {
			return err
		}
		if a.ID == 0 {
			emit(Msg{Kind: "warm"})
			continue
		}
		emit(Msg{Kind: "event", ID: uint64(a.ID), Count: a.Count})
	}
	return nil
}

// PlanSteps is the number of responses the plan server sends per request.
const PlanSteps = 5

func planResponse(goal robot.Vec3, i int) robot.PlanResponse {
	return robot.PlanResponse{Step: uint32(i), Waypoint: robot.Vec3{X: goal.X + float64(i), Y: goal.Y * 2, Z: -goal.Z}}
}

// planServer answers each request with PlanSteps responses, then ends the
// stream (closes the request).
func planServer(ctx context.Context, node *iox2.Node, _ <-chan []string) error {
	svc, err := robot.OpenOrCreatePlan(node)
	if err != nil {
		return err
	}
	defer svc.Close()
	srv, err := robot.PlanServer(svc).Create()
	if err != nil {
		return err
	}
	defer srv.Close()
	emit(Msg{Kind: "ready"})
	for req, err := range srv.Requests(ctx) {
		if err != nil {
			return err
		}
		goal := req.Payload().Goal
		for i := range PlanSteps {
			if err := req.SendCopy(planResponse(goal, i)); err != nil {
				emit(Msg{Kind: "served", Err: err.Error()})
				break
			}
		}
		if goal.X != 0 {
			emit(Msg{Kind: "served", Seq: uint64(goal.X)})
		}
	}
	return nil
}

// planClient: "warm" sends requests (goal 0) until one gets its whole
// stream, then prints {"kind":"warm"}; "go N" sends requests 1..N one
// after the other and prints {"kind":"resp","seq":k,"n":responses} for
// each once its stream ended, with err set if a response differs.
func planClient(ctx context.Context, node *iox2.Node, cmds <-chan []string) error {
	svc, err := robot.OpenOrCreatePlan(node)
	if err != nil {
		return err
	}
	defer svc.Close()
	cl, err := robot.PlanClient(svc).Create()
	if err != nil {
		return err
	}
	defer cl.Close()
	emit(Msg{Kind: "ready"})
	ask := func(goal robot.Vec3, d time.Duration) (int, error) {
		pending, err := cl.SendCopy(robot.PlanRequest{Goal: goal})
		if err != nil {
			return 0, err
		}
		defer pending.Close()
		rctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		n := 0
		var bad error
		for r, err := range pending.Responses(rctx) {
			if err != nil {
				return n, err
			}
			if got, want := *r.Payload(), planResponse(goal, n); got != want && bad == nil {
				bad = fmt.Errorf("response %d: %+v, want %+v", n, got, want)
			}
			n++
		}
		return n, bad
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-cmds:
			switch c[0] {
			case "warm":
				for ctx.Err() == nil {
					if n, err := ask(robot.Vec3{}, 2*time.Second); err == nil && n == PlanSteps {
						emit(Msg{Kind: "warm"})
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			case "go":
				n, _ := strconv.Atoi(c[1])
				for k := 1; k <= n; k++ {
					got, err := ask(robot.Vec3{X: float64(k), Y: float64(k) / 2, Z: float64(k) + 0.25}, Patience)
					m := Msg{Kind: "resp", Seq: uint64(k), N: got}
					if err != nil {
						m.Err = err.Error()
					}
					emit(m)
				}
			default:
				return fmt.Errorf("unknown command %q", c)
			}
		}
	}
}

// vecSub subscribes to "robot/imu" with another payload type (robot::Vec3):
// the gateway must refuse to bridge it.
func vecSub(ctx context.Context, node *iox2.Node, _ <-chan []string) error {
	svc, err := iox2.PublishSubscribe[robot.Vec3](node, robot.ImuServiceName).OpenOrCreate()
	if err != nil {
		return err
	}
	defer svc.Close()
	sub, err := svc.Subscriber()
	if err != nil {
		return err
	}
	defer sub.Close()
	emit(Msg{Kind: "ready"})
	for s, err := range sub.Samples(ctx) {
		if err != nil {
			return err
		}
		emit(Msg{Kind: "vec", Text: fmt.Sprint(*s.Payload())})
	}
	return nil
}
