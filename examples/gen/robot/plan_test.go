package robot

import (
	"errors"
	"fmt"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// TestGeneratedPlan checks that the settings of the request-response
// service "robot/plan" in robot.idl reach the runtime through the
// generated API, and streams the waypoints of a plan from a server to a
// client.
func TestGeneratedPlan(t *testing.T) {
	node := iox2test.Node(t, iox2test.Config(t))
	svc, err := OpenOrCreatePlan(node)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	q := svc.QoS()
	if q.MaxResponseBufferSize != 8 || q.MaxServers != 1 || q.MaxClients != 4 || q.MaxActiveRequestsPerClient != 2 {
		t.Errorf("QoS %+v, want that of robot.idl", q)
	}
	if got := fmt.Sprint(svc.Attributes()); got != "[{planner rrt}]" {
		t.Errorf("attributes %s, want those of robot.idl", got)
	}
	srv, err := PlanServer(svc).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := PlanServer(svc).Create(); !errors.Is(err, iox2.ErrExceedsMaxServers) {
		t.Errorf("second server: %v, want ErrExceedsMaxServers (@max_servers(1))", err)
	}
	client, err := PlanClient(svc).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	goal := Vec3{X: 3, Y: 4}
	pending, err := client.SendCopy(PlanRequest{Goal: goal})
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()
	// @max_active_requests_per_client(2): a third request waits for one of
	// the first two to close.
	other, err := client.SendCopy(PlanRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.SendCopy(PlanRequest{}); !errors.Is(err, iox2.ErrExceedsMaxActiveRequests) {
		t.Errorf("third request: %v, want ErrExceedsMaxActiveRequests", err)
	}
	other.Close()

	var req *iox2.ActiveRequest[PlanRequest, PlanResponse]
	for deadline := time.Now().Add(10 * time.Second); req == nil && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if req, err = srv.Receive(); err != nil {
			t.Fatal(err)
		}
		if req != nil && req.Payload().Goal != goal {
			req.Close() // the request closed above, if it was not skipped
			req = nil
		}
	}
	if req == nil {
		t.Fatal("no request within 10s")
	}
	// @server_max_loaned_responses_per_request(4).
	var loans []*iox2.ResponseMut[PlanResponse]
	for range 4 {
		r, err := req.Loan()
		if err != nil {
			t.Fatalf("loan %d of 4: %v", len(loans)+1, err)
		}
		loans = append(loans, r)
	}
	if _, err := req.Loan(); !errors.Is(err, iox2.ErrExceedsMaxLoans) {
		t.Errorf("fifth loan: %v, want ErrExceedsMaxLoans", err)
	}
	for i, r := range loans {
		*r.Payload() = PlanResponse{Step: uint32(i), Waypoint: Vec3{X: goal.X * float64(i+1) / 4, Y: goal.Y * float64(i+1) / 4}}
		if err := r.Send(); err != nil {
			t.Fatal(err)
		}
	}
	req.Close()

	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 4; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 4 responses within 10s", i)
		}
		r, err := pending.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			time.Sleep(time.Millisecond)
			continue
		}
		if p := r.Payload(); p.Step != uint32(i) || p.Waypoint.X != goal.X*float64(i+1)/4 {
			t.Errorf("response %d: %+v", i, *p)
		}
		r.Release()
		i++
	}
	if s := svc.NumberOfServers(); s != 1 {
		t.Errorf("NumberOfServers = %d", s)
	}
}
