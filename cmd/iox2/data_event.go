package main

// iox2 notify and iox2 listen: the two ends of an event service.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

func init() {
	var notify struct {
		id       uint64
		count    int
		interval time.Duration
	}
	register(&command{
		path:    "notify",
		args:    "<service>",
		summary: "send notifications to the listeners of an event service",
		help: `Opens the event service (it must exist: exit code 3 otherwise), creates a
notifier and sends --count notifications of --event-id, --interval apart.
Each notification reaches the listeners that exist when it is sent; one
line per notification says how many:

  notified "robot/alarm": event id 1 (1 of 3), 2 listeners

With --json each line is {"service":..., "event_id":..., "n":..., "listeners":...}.
--count 0 notifies until Ctrl-C. A notification later than the service's
deadline is still delivered, with a warning on stderr.`,
		flags: func(fs *flag.FlagSet) {
			fs.Uint64Var(&notify.id, "event-id", 0, "the event `ID` to send (0 to the service's event id max value)")
			fs.IntVar(&notify.count, "count", 1, "how many notifications to send (`N`, 0: until Ctrl-C)")
			fs.DurationVar(&notify.interval, "interval", 250*time.Millisecond, "the time between two notifications")
		},
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			return runNotify(e, args[0], iox2.EventID(notify.id), notify.count, notify.interval)
		},
	})

	var listen struct {
		count   int
		timeout time.Duration
	}
	register(&command{
		path:    "listen",
		args:    "<service>",
		summary: "wait for the notifications of an event service and print them",
		help: `Opens the event service (it must exist: exit code 3 otherwise), creates a
listener and blocks until notifications arrive (it sleeps in the kernel,
it does not poll). Notifications of one event id that arrive before the
listener wakes are reported together, with their number:

  event id 1 (x2)

With --json each line is {"event_id":..., "count":...}. The command ends
after --count notifications (0: no limit), after --timeout (0: none) or on
Ctrl-C. If the timeout passes before anything arrived, the exit code is 4.`,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&listen.count, "count", 0, "stop after `N` notifications (0: no limit)")
			fs.DurationVar(&listen.timeout, "timeout", 0, "stop after this long (0: never); nothing by then is exit code 4")
		},
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			return runListen(e, args[0], listen.count, listen.timeout)
		},
	})
}

// notifyLine is one line of `iox2 notify --json`.
type notifyLine struct {
	Service   string `json:"service"`
	EventID   uint64 `json:"event_id"`
	N         int    `json:"n"`
	Listeners int    `json:"listeners"`
}

func runNotify(e *env, name string, id iox2.EventID, count int, interval time.Duration) error {
	if err := checkCount("notify", count); err != nil {
		return err
	}
	if err := checkDuration("notify", "interval", interval); err != nil {
		return err
	}
	s, svc, err := openEventSession(e, name)
	if err != nil {
		return err
	}
	defer s.Close()
	if max := svc.QoS().EventIDMaxValue; uint64(id) > uint64(max) {
		return usagef("notify: --event-id %d exceeds the event id max value %d of service %q", id, max, name)
	}
	n, err := svc.Notifier()
	if err != nil {
		return err
	}
	for i := 1; count == 0 || i <= count; i++ {
		if i > 1 && !s.sleep(interval) {
			break
		}
		k, err := n.NotifyWithCustomEventID(id)
		if err != nil {
			if !errors.Is(err, iox2.ErrMissedDeadline) {
				return fmt.Errorf("notify %q: %w", name, err)
			}
			printMessage(e.stderr, "warning: ", errorText(err))
		}
		if e.json {
			err = printJSONLine(e.stdout, notifyLine{Service: name, EventID: uint64(id), N: i, Listeners: k})
		} else {
			of := ""
			if count > 0 {
				of = fmt.Sprintf(" of %d", count)
			}
			_, err = fmt.Fprintf(e.stdout, "notified %q: event id %d (%d%s), %d %s\n", name, id, i, of, k, dataPlural(k, "listener", "listeners"))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// listenLine is one line of `iox2 listen --json`.
type listenLine struct {
	EventID uint64 `json:"event_id"`
	Count   uint64 `json:"count"`
}

func runListen(e *env, name string, count int, timeout time.Duration) error {
	if err := checkCount("listen", count); err != nil {
		return err
	}
	if err := checkDuration("listen", "timeout", timeout); err != nil {
		return err
	}
	s, svc, err := openEventSession(e, name)
	if err != nil {
		return err
	}
	defer s.Close()
	l, err := svc.Listener()
	if err != nil {
		return err
	}
	ctx := s.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var total uint64
	var werr error
	for count == 0 || total < uint64(count) {
		_, err := l.BlockingWait(ctx, func(a iox2.EventActivation) {
			total += a.Count
			if werr != nil {
				return
			}
			if e.json {
				werr = printJSONLine(e.stdout, listenLine{EventID: uint64(a.ID), Count: a.Count})
			} else if a.Count == 1 {
				_, werr = fmt.Fprintf(e.stdout, "event id %d\n", a.ID)
			} else {
				_, werr = fmt.Fprintf(e.stdout, "event id %d (x%d)\n", a.ID, a.Count)
			}
		})
		if werr != nil {
			return werr
		}
		if err != nil {
			if s.interrupted() {
				return nil // Ctrl-C: a normal end
			}
			if errors.Is(err, context.DeadlineExceeded) {
				if total == 0 {
					return fmt.Errorf("listen %q: no notification within %v: %w", name, timeout, errTimeout)
				}
				return nil
			}
			return fmt.Errorf("listen %q: %w", name, err)
		}
	}
	return nil
}

// dataPlural returns one or many depending on n.
func dataPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
