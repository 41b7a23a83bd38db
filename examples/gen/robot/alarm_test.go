package robot

import (
	"errors"
	"fmt"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// TestGeneratedAlarm checks that the settings of the event service
// "robot/alarm" in robot.idl reach the runtime through the generated API:
// the service QoS, its attribute, and AlarmNotifier's default event id.
func TestGeneratedAlarm(t *testing.T) {
	node := iox2test.Node(t, iox2test.Config(t))
	svc, err := OpenOrCreateAlarm(node)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	q := svc.QoS()
	if q.EventIDMaxValue != 15 || q.MaxNotifiers != 4 || q.MaxListeners != 4 ||
		q.NotifierDeadEvent == nil || *q.NotifierDeadEvent != iox2.EventID(AlarmNotifierLost) ||
		q.NotifierCreatedEvent != nil || q.NotifierDroppedEvent != nil || q.Deadline != 0 {
		t.Errorf("QoS %+v, want that of robot.idl", q)
	}
	if got := fmt.Sprint(svc.Attributes()); got != "[{severity high}]" {
		t.Errorf("attributes %s, want those of robot.idl", got)
	}

	listener, err := AlarmListener(svc).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	var notifiers []*iox2.Notifier
	for range 4 {
		n, err := AlarmNotifier(svc).Create()
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		notifiers = append(notifiers, n)
	}
	if _, err := AlarmNotifier(svc).Create(); !errors.Is(err, iox2.ErrExceedsMaxNotifiers) {
		t.Errorf("fifth notifier: %v, want ErrExceedsMaxNotifiers (@max_notifiers(4))", err)
	}

	// @default_event_id(ALARM_OVERHEAT).
	if _, err := notifiers[0].Notify(); err != nil {
		t.Fatal(err)
	}
	if _, err := notifiers[1].NotifyWithCustomEventID(iox2.EventID(AlarmCollision)); err != nil {
		t.Fatal(err)
	}
	// @event_id_max_value(15).
	if _, err := notifiers[2].NotifyWithCustomEventID(16); !errors.Is(err, iox2.ErrEventIDOutOfBounds) {
		t.Errorf("id 16: %v, want ErrEventIDOutOfBounds", err)
	}
	got := map[iox2.EventID]uint64{}
	for deadline := time.Now().Add(10 * time.Second); len(got) < 2 && time.Now().Before(deadline); {
		if _, err := listener.TimedWait(func(a iox2.EventActivation) { got[a.ID] += a.Count }, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[iox2.EventID(AlarmOverheat)] != 1 || got[iox2.EventID(AlarmCollision)] != 1 {
		t.Errorf("received %v, want ALARM_OVERHEAT and ALARM_COLLISION once each", got)
	}

	// Opening requires what robot.idl states: a service with fewer event
	// ids is incompatible.
	other := iox2test.Node(t, iox2test.Config(t))
	small, err := iox2.Event(other, AlarmServiceName).EventIDMaxValue(7).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, err := OpenAlarm(other); !errors.Is(err, iox2.ErrIncompatibleQoS) {
		t.Errorf("OpenAlarm on a service with ids 0..7: %v, want ErrIncompatibleQoS", err)
	}
}
