package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/iox2go/iox2go/examples/gen/robot"
	iox2 "github.com/iox2go/iox2go/runtime"
)

// Exit statuses of a peer.
const (
	exitOK       = 0
	exitFail     = 1 // "fail": the peer saw something wrong
	exitError    = 2 // "error": a call failed
	exitUsage    = 64
	exitStdinEOF = 3 // the driver went away during a hold
)

// errNames maps the runtime's sentinel errors to the names of the C
// library's error codes (IOX2_E_<name>). ErrResourceLimit comes before
// ErrInvalidQoS, which it wraps.
var errNames = []struct {
	err  error
	name string
}{
	{iox2.ErrResourceLimit, "RESOURCE_LIMIT"},
	{iox2.ErrInvalidServiceName, "INVALID_SERVICE_NAME"},
	{iox2.ErrInvalidNodeName, "INVALID_NODE_NAME"},
	{iox2.ErrInvalidAttribute, "INVALID_ATTRIBUTE"},
	{iox2.ErrInvalidQoS, "INVALID_QOS"},
	{iox2.ErrInvalidType, "INVALID_TYPE"},
	{iox2.ErrServiceNotExist, "SERVICE_NOT_EXIST"},
	{iox2.ErrServiceExists, "SERVICE_EXISTS"},
	{iox2.ErrIncompatiblePattern, "INCOMPATIBLE_PATTERN"},
	{iox2.ErrIncompatibleTypes, "INCOMPATIBLE_TYPES"},
	{iox2.ErrIncompatibleQoS, "INCOMPATIBLE_QOS"},
	{iox2.ErrIncompatibleAttributes, "INCOMPATIBLE_ATTRIBUTES"},
	{iox2.ErrVersionMismatch, "VERSION_MISMATCH"},
	{iox2.ErrServiceCorrupted, "SERVICE_CORRUPTED"},
	{iox2.ErrServiceInFlux, "SERVICE_IN_FLUX"},
	{iox2.ErrExceedsMaxNodes, "EXCEEDS_MAX_NODES"},
	{iox2.ErrPermission, "PERMISSION"},
	{iox2.ErrExceedsMaxPublishers, "EXCEEDS_MAX_PUBLISHERS"},
	{iox2.ErrExceedsMaxSubscribers, "EXCEEDS_MAX_SUBSCRIBERS"},
	{iox2.ErrBufferSizeExceedsMax, "BUFFER_SIZE_EXCEEDS_MAX"},
	{iox2.ErrHistoryRequestExceeds, "HISTORY_REQUEST_EXCEEDS"},
	{iox2.ErrClosed, "CLOSED"},
	{iox2.ErrExceedsMaxLoans, "EXCEEDS_MAX_LOANS"},
	{iox2.ErrOutOfMemory, "OUT_OF_MEMORY"},
	{iox2.ErrExceedsMaxBorrows, "EXCEEDS_MAX_BORROWS"},
	{iox2.ErrSampleNotOwned, "SAMPLE_NOT_OWNED"},
	{iox2.ErrUnableToDeliver, "UNABLE_TO_DELIVER"},
	{iox2.ErrConnectionCorrupted, "CONNECTION_CORRUPTED"},
	{iox2.ErrSliceLengthExceedsLimit, "SLICE_LENGTH_EXCEEDS_LIMIT"},
	{iox2.ErrExceedsMaxNotifiers, "EXCEEDS_MAX_NOTIFIERS"},
	{iox2.ErrExceedsMaxListeners, "EXCEEDS_MAX_LISTENERS"},
	{iox2.ErrEventIDOutOfBounds, "EVENT_ID_OUT_OF_BOUNDS"},
	{iox2.ErrMissedDeadline, "MISSED_DEADLINE"},
	{iox2.ErrExceedsMaxClients, "EXCEEDS_MAX_CLIENTS"},
	{iox2.ErrExceedsMaxServers, "EXCEEDS_MAX_SERVERS"},
	{iox2.ErrExceedsMaxActiveRequests, "EXCEEDS_MAX_ACTIVE_REQUESTS"},
	{iox2.ErrActiveRequestsExceedMax, "ACTIVE_REQUESTS_EXCEED_MAX"},
	{iox2.ErrStreamEnded, "STREAM_ENDED"},
	{context.DeadlineExceeded, "TIMEOUT"},
}

// ErrName returns the C library's name of err's code, "OS" for an error of
// the operating system.
func ErrName(err error) string {
	for _, e := range errNames {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return "OS"
}

// peerExit ends a role: the status and the line printed before.
type peerExit struct{ code int }

// peer is one run of a role.
type peer struct {
	out   *bufio.Writer
	lines chan string // standard input, line by line; closed at its end
	args  map[string]string
	cfg   *iox2.Config
	role  string
	nodes []*iox2.Node
}

// RunPeer runs the Go implementation of the peer protocol (see the package
// documentation) with the arguments after the program name, and returns
// the exit status.
func RunPeer(args []string, in io.Reader, out io.Writer) (code int) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	if len(args) < 4 {
		fmt.Fprintln(w, "fail usage: peer <root> <shm-dir> <prefix> <role> [key=value ...]")
		return exitUsage
	}
	p := &peer{out: w, lines: make(chan string), args: map[string]string{}, role: args[3]}
	for _, a := range args[4:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			p.println("fail argument %q is not key=value", a)
			return exitUsage
		}
		p.args[k] = v
	}
	p.cfg = iox2.DefaultConfig()
	p.cfg.Root, p.cfg.ShmDir, p.cfg.Prefix = args[0], args[1], args[2]
	go func() {
		s := bufio.NewScanner(in)
		for s.Scan() {
			p.lines <- s.Text()
		}
		close(p.lines)
	}()
	defer func() {
		for i := len(p.nodes) - 1; i >= 0; i-- {
			p.nodes[i].Close()
		}
		if r := recover(); r != nil {
			e, ok := r.(peerExit)
			if !ok {
				panic(r)
			}
			code = e.code
		}
	}()
	roles := map[string]func(){
		"imu-pub": p.imuPub, "imu-sub": p.imuSub,
		"points-pub": p.pointsPub, "points-sub": p.pointsSub,
		"alarm-listen": p.alarmListen, "alarm-notify": p.alarmNotify,
		"plan-server": p.planServer, "plan-client": p.planClient,
		"open": p.open, "nodes": p.nodesRole,
	}
	f, ok := roles[p.role]
	if !ok {
		p.println("fail unknown role %q", p.role)
		return exitUsage
	}
	f()
	for i := len(p.nodes) - 1; i >= 0; i-- {
		if err := p.nodes[i].Close(); err != nil {
			p.errorf(err)
		}
	}
	p.nodes = nil
	p.println("ok")
	return exitOK
}

func (p *peer) println(format string, a ...any) {
	fmt.Fprintf(p.out, format+"\n", a...)
	p.out.Flush()
}

// errorf prints the error line of err and ends the role.
func (p *peer) errorf(err error) {
	p.println("error %s %s", ErrName(err), strings.ReplaceAll(err.Error(), "\n", " "))
	panic(peerExit{exitError})
}

// failf prints a fail line and ends the role.
func (p *peer) failf(format string, a ...any) {
	p.println("fail "+format, a...)
	panic(peerExit{exitFail})
}

func (p *peer) check(err error) {
	if err != nil {
		p.errorf(err)
	}
}

func (p *peer) num(key string, def int) int {
	v, ok := p.args[key]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.failf("argument %s=%q is not a number", key, v)
	}
	return n
}

func (p *peer) flag(key string) bool { return p.num(key, 0) != 0 }

// hold prints "hold" and waits for the driver's go-ahead.
func (p *peer) hold() {
	p.println("hold")
	if _, ok := <-p.lines; !ok {
		panic(peerExit{exitStdinEOF})
	}
}

func (p *peer) node() *iox2.Node {
	n, err := iox2.NewNodeBuilder().Name("conf-" + p.role).Config(p.cfg).SignalHandling(false).Create()
	p.check(err)
	p.nodes = append(p.nodes, n)
	return n
}

func (p *peer) timeout() time.Duration {
	return time.Duration(p.num("timeout_ms", 10000)) * time.Millisecond
}

func (p *peer) imuPub() {
	svc, err := robot.OpenOrCreateImu(p.node())
	p.check(err)
	var pubs []*iox2.Publisher[robot.Imu]
	for range p.num("pubs", 1) {
		pub, err := robot.ImuPublisher(svc).Create()
		p.check(err)
		pubs = append(pubs, pub)
		p.println("ready id=%s", pub.ID())
	}
	if p.flag("wait") {
		p.hold()
	}
	n := uint64(p.num("n", 1))
	forever := p.flag("forever")
	interval := time.Duration(p.num("interval_us", 0)) * time.Microsecond
	seq := uint64(0)
	for round := range p.num("rounds", 1) {
		if round > 0 {
			p.hold()
		}
		for end := seq + n; forever || seq < end; seq++ {
			s, err := pubs[0].Loan()
			p.check(err)
			FillImu(s.Payload(), seq)
			k, err := s.Send()
			p.check(err)
			p.println("sent seq=%d delivered=%d", seq, k)
			if interval > 0 {
				time.Sleep(interval)
			}
		}
	}
	if p.flag("linger") {
		p.hold()
	}
}

func (p *peer) imuSub() {
	svc, err := robot.OpenOrCreateImu(p.node())
	p.check(err)
	b := robot.ImuSubscriber(svc)
	if v := p.num("buffer", -1); v >= 0 {
		b.BufferSize(v)
	}
	if v := p.num("history", -1); v >= 0 {
		b.HistoryRequest(v)
	}
	sub, err := b.Create()
	p.check(err)
	p.println("ready id=%s", sub.ID())
	if p.flag("wait") {
		p.hold()
	}
	keep := p.num("keep", 0)
	var kept []*iox2.Sample[robot.Imu]
	show := func(s *iox2.Sample[robot.Imu]) {
		h := s.Header()
		if err := CheckImu(s.Payload(), h.Sequence); err != nil {
			p.failf("%v", err)
		}
		p.println("%s", ImuLine(s.Payload(), h.Sequence, iox2.ID(h.Publisher).String()))
		if len(kept) < keep {
			kept = append(kept, s)
		} else {
			s.Release()
		}
	}
	drain := func() {
		for {
			s, err := sub.Receive()
			p.check(err)
			if s == nil {
				return
			}
			show(s)
		}
	}
	n := p.num("n", 1)
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout())
	defer cancel()
	for round := range p.num("rounds", 1) {
		if round > 0 {
			p.hold()
		}
		if p.flag("drain") {
			drain()
			continue
		}
		for i := 0; i < n; i++ {
			s, err := sub.BlockingReceive(ctx)
			if errors.Is(err, context.DeadlineExceeded) {
				p.failf("timed out after %d of %d samples", i, n)
			}
			p.check(err)
			show(s)
		}
	}
	if keep > 0 {
		p.hold()
		for _, s := range kept {
			seq := s.Header().Sequence
			if err := CheckImu(s.Payload(), seq); err != nil {
				p.failf("kept %v", err)
			}
			p.println("kept seq=%d", seq)
			s.Release()
		}
		drain()
	}
	if p.flag("linger") {
		p.hold()
	}
}

func (p *peer) pointsPub() {
	svc, err := robot.OpenOrCreatePoints(p.node())
	p.check(err)
	pub, err := robot.PointsPublisher(svc).Create()
	p.check(err)
	p.println("ready id=%s", pub.ID())
	if p.flag("wait") {
		p.hold()
	}
	for seq := uint64(0); seq < uint64(p.num("n", 1)); seq++ {
		s, err := pub.LoanSlice(PointsLen(seq))
		p.check(err)
		*iox2.UserHeader[robot.Stamp](s) = PointsStamp(seq)
		for i := range s.PayloadSlice() {
			s.PayloadSlice()[i] = PointsElem(seq, i)
		}
		k, err := s.Send()
		p.check(err)
		p.println("sent seq=%d delivered=%d", seq, k)
	}
	if p.flag("linger") {
		p.hold()
	}
}

func (p *peer) pointsSub() {
	svc, err := robot.OpenOrCreatePoints(p.node())
	p.check(err)
	sub, err := robot.PointsSubscriber(svc).Create()
	p.check(err)
	p.println("ready id=%s", sub.ID())
	if p.flag("wait") {
		p.hold()
	}
	show := func(s *iox2.Sample[robot.Vec3]) {
		defer s.Release()
		h := s.Header()
		st := iox2.UserHeader[robot.Stamp](s)
		if st == nil {
			p.failf("points sample %d has no user header", h.Sequence)
		}
		pts := s.PayloadSlice()
		if *st != PointsStamp(h.Sequence) {
			p.failf("points sample %d: user header %+v", h.Sequence, *st)
		}
		if len(pts) != PointsLen(h.Sequence) {
			p.failf("points sample %d: %d elements", h.Sequence, len(pts))
		}
		for i, v := range pts {
			if v != PointsElem(h.Sequence, i) {
				p.failf("points sample %d: element %d is %v", h.Sequence, i, v)
			}
		}
		p.println("%s", PointsLine(h.Sequence, iox2.ID(h.Publisher).String(), *st, pts))
	}
	if p.flag("drain") {
		for {
			s, err := sub.Receive()
			p.check(err)
			if s == nil {
				break
			}
			show(s)
		}
	} else {
		n := p.num("n", 1)
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout())
		defer cancel()
		for i := 0; i < n; i++ {
			s, err := sub.BlockingReceive(ctx)
			if errors.Is(err, context.DeadlineExceeded) {
				p.failf("timed out after %d of %d samples", i, n)
			}
			p.check(err)
			show(s)
		}
	}
	if p.flag("linger") {
		p.hold()
	}
}

func (p *peer) alarmListen() {
	svc, err := robot.OpenOrCreateAlarm(p.node())
	p.check(err)
	l, err := robot.AlarmListener(svc).Create()
	p.check(err)
	p.println("ready id=%s", l.ID())
	seen := map[iox2.EventID]bool{}
	deadline := time.Now().Add(p.timeout())
	p.println("waiting")
	for n := p.num("n", 1); len(seen) < n; {
		left := time.Until(deadline)
		if left <= 0 {
			p.failf("timed out after %d of %d event ids", len(seen), n)
		}
		id, ok, err := l.TimedWaitOne(left)
		p.check(err)
		if ok && !seen[id] {
			seen[id] = true
			p.println("event id=%d", id)
		}
	}
	if p.flag("linger") {
		p.hold()
	}
}

func (p *peer) alarmNotify() {
	svc, err := robot.OpenOrCreateAlarm(p.node())
	p.check(err)
	n, err := robot.AlarmNotifier(svc).Create()
	p.check(err)
	p.println("ready id=%s", n.ID())
	if p.flag("wait") {
		p.hold()
	}
	for _, s := range strings.Split(p.args["ids"], ",") {
		if s == "" {
			continue
		}
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			p.failf("ids: %v", err)
		}
		k, err := n.NotifyWithCustomEventID(iox2.EventID(id))
		p.check(err)
		p.println("notified id=%d listeners=%d", id, k)
	}
	if p.flag("linger") {
		p.hold()
	}
}

func (p *peer) planServer() {
	svc, err := robot.OpenOrCreatePlan(p.node())
	p.check(err)
	srv, err := robot.PlanServer(svc).Create()
	p.check(err)
	p.println("ready id=%s", srv.ID())
	steps := p.num("steps", 3)
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout())
	defer cancel()
	for r := range p.num("requests", 1) {
		req, err := srv.BlockingReceive(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			p.failf("timed out after %d requests", r)
		}
		p.check(err)
		h := req.Header()
		goal := req.Payload().Goal
		p.println("request id=%d goal=%s client=%s", h.RequestID, f3(goal), h.ClientID)
		for i := range steps {
			m, err := req.Loan()
			p.check(err)
			*m.Payload() = robot.PlanResponse{Step: uint32(i), Waypoint: PlanWaypoint(goal, i)}
			p.check(m.Send())
		}
		req.Close()
		p.println("responded id=%d n=%d", h.RequestID, steps)
	}
	if p.flag("linger") {
		p.hold()
	}
}

func (p *peer) planClient() {
	svc, err := robot.OpenOrCreatePlan(p.node())
	p.check(err)
	c, err := robot.PlanClient(svc).Create()
	p.check(err)
	p.println("ready id=%s", c.ID())
	steps := p.num("steps", 3)
	var pending []*iox2.PendingResponse[robot.PlanRequest, robot.PlanResponse]
	for r := range p.num("requests", 1) {
		q, err := c.Loan()
		p.check(err)
		q.Payload().Goal = PlanGoal(r)
		pr, err := q.Send()
		p.check(err)
		p.println("sent req=%d id=%d", r, pr.Header().RequestID)
		pending = append(pending, pr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout())
	defer cancel()
	for r, pr := range pending {
		goal := PlanGoal(r)
		i := 0
		for {
			resp, err := pr.BlockingReceive(ctx)
			if errors.Is(err, iox2.ErrStreamEnded) {
				break
			}
			if errors.Is(err, context.DeadlineExceeded) {
				p.failf("request %d: timed out after %d responses", r, i)
			}
			p.check(err)
			v := resp.Payload()
			if v.Step != uint32(i) || v.Waypoint != PlanWaypoint(goal, i) {
				p.failf("request %d: response %d is step %d waypoint %s", r, i, v.Step, f3(v.Waypoint))
			}
			p.println("resp req=%d step=%d waypoint=%s server=%s", r, v.Step, f3(v.Waypoint), resp.Header().ServerID)
			resp.Release()
			i++
		}
		pr.Close()
		if i != steps {
			p.failf("request %d: %d responses, want %d", r, i, steps)
		}
		p.println("end req=%d n=%d", r, i)
	}
}

// open opens a robot service with one deviation from what the service is.
func (p *peer) open() {
	node := p.node()
	var err error
	closeIt := func(c interface{ Close() error }) {
		if err == nil {
			c.Close()
		}
	}
	switch svc := p.args["svc"]; svc {
	case "imu":
		if p.args["type"] == "vec3" {
			s, e := iox2.PublishSubscribe[robot.Vec3](node, robot.ImuServiceName).Open()
			err = e
			closeIt(s)
			break
		}
		b := iox2.PublishSubscribe[robot.Imu](node, robot.ImuServiceName)
		if v := p.num("history", -1); v >= 0 {
			b.HistorySize(v)
		}
		if k, v, ok := strings.Cut(p.args["require"], ":"); ok {
			b.RequireAttribute(k, v)
		}
		s, e := b.Open()
		err = e
		closeIt(s)
	case "points":
		var b *iox2.PublishSubscribeBuilder[robot.Vec3]
		if p.args["slice"] == "0" {
			b = iox2.PublishSubscribe[robot.Vec3](node, robot.PointsServiceName)
		} else {
			b = iox2.PublishSubscribeSlice[robot.Vec3](node, robot.PointsServiceName)
		}
		if p.args["header"] != "none" {
			b = iox2.WithUserHeader[robot.Stamp](b)
		}
		s, e := b.Open()
		err = e
		closeIt(s)
	case "alarm":
		b := iox2.Event(node, robot.AlarmServiceName)
		if v := p.num("notifiers", -1); v >= 0 {
			b.MaxNotifiers(v)
		}
		s, e := b.Open()
		err = e
		closeIt(s)
	case "plan":
		if p.flag("swap") {
			s, e := iox2.RequestResponse[robot.PlanResponse, robot.PlanRequest](node, robot.PlanServiceName).Open()
			err = e
			closeIt(s)
			break
		}
		s, e := iox2.RequestResponse[robot.PlanRequest, robot.PlanResponse](node, robot.PlanServiceName).Open()
		err = e
		closeIt(s)
	default:
		p.failf("open: unknown svc %q", svc)
	}
	p.check(err)
	p.println("opened i=0")
}

// nodesRole opens service conf/nodes from k nodes of this process.
func (p *peer) nodesRole() {
	var svcs []*iox2.PublishSubscribeService[robot.Imu]
	defer func() {
		for _, s := range svcs {
			s.Close()
		}
	}()
	for i := range p.num("k", 1) {
		s, err := iox2.PublishSubscribe[robot.Imu](p.node(), "conf/nodes").MaxNodes(p.num("max_nodes", 2)).OpenOrCreate()
		p.check(err)
		svcs = append(svcs, s)
		p.println("opened i=%d", i)
	}
	if p.flag("linger") {
		p.hold()
	}
}
