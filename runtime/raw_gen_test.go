package runtime_test

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/iox2go/iox2go/examples/gen/robot"
	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

func rawBytes[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

func ok[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestRawWithGeneratedTypes: a raw subscriber reads what the generated
// robot.Imu publisher sends, and the generated robot/points subscriber
// (a slice of Vec3 with a Stamp user header) reads what a raw publisher
// sends.
func TestRawWithGeneratedTypes(t *testing.T) {
	node := iox2test.Node(t, iox2test.Config(t))

	imu := ok[*iox2.PublishSubscribeService[robot.Imu]](t)(robot.OpenOrCreateImu(node))
	defer imu.Close()
	rimu := ok[*iox2.RawPubSubService](t)(iox2.PublishSubscribeRaw(node, robot.ImuServiceName).Open())
	defer rimu.Close()
	if rimu.PayloadType() != robot.ImuTypeInfo || rimu.IsSlice() {
		t.Fatalf("raw view of robot/imu: %+v", rimu.PayloadType())
	}
	rsub := ok[*iox2.RawSubscriber](t)(rimu.Subscriber())
	pub := ok[*iox2.Publisher[robot.Imu]](t)(imu.Publisher())
	s := ok[*iox2.SampleMut[robot.Imu]](t)(pub.Loan())
	v := s.Payload()
	v.StampNs, v.Mode, v.Calibrated, v.Temperature = 123, robot.ModeFault, true, 21.5
	v.Frame.Set("base_link")
	v.Points.Push(robot.Vec3{X: 1, Y: 2, Z: 3})
	v.Raw[1][3] = -7
	want := *v
	ok[int](t)(s.Send())
	r := ok[*iox2.RawSample](t)(rsub.Receive())
	if r == nil || !bytes.Equal(r.Payload(), rawBytes(&want)) || r.Publisher() != pub.ID() {
		t.Fatalf("raw sample of robot/imu: %v", r)
	}
	r.Release()

	pts := ok[*iox2.PublishSubscribeService[robot.Vec3]](t)(robot.OpenOrCreatePoints(node))
	defer pts.Close()
	rpts := ok[*iox2.RawPubSubService](t)(iox2.PublishSubscribeRaw(node, robot.PointsServiceName).RequireAttribute("frame", "lidar").Open())
	defer rpts.Close()
	if h, has := rpts.UserHeaderType(); !has || h != robot.StampTypeInfo || !rpts.IsSlice() {
		t.Fatalf("raw view of robot/points: header %+v %v, slice %v", h, has, rpts.IsSlice())
	}
	sub := ok[*iox2.Subscriber[robot.Vec3]](t)(robot.PointsSubscriber(pts).Create())
	rpub := ok[*iox2.RawPublisher](t)(rpts.Publisher(1024))
	m := ok[*iox2.RawSampleMut](t)(rpub.Loan(2))
	in := [2]robot.Vec3{{X: 1}, {Y: -2, Z: 0.5}}
	copy(m.Payload(), rawBytes(&in))
	st := robot.Stamp{StampNs: 5, Seq: 6, SensorId: 7}
	copy(m.UserHeader(), rawBytes(&st))
	ok[int](t)(m.Send())
	got := ok[*iox2.Sample[robot.Vec3]](t)(sub.Receive())
	if got == nil || len(got.PayloadSlice()) != 2 || got.PayloadSlice()[1] != in[1] || *iox2.UserHeader[robot.Stamp](got) != st {
		t.Fatalf("typed subscriber of robot/points got %v", got)
	}
	got.Release()
}
