package runtime

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, one per condition. Functions return them wrapped with
// context (often in a *ServiceError); test for them with errors.Is.
var (
	// Names.
	ErrInvalidServiceName = errors.New("iox2: invalid service name")
	ErrInvalidNodeName    = errors.New("iox2: invalid node name")
	ErrInvalidAttribute   = errors.New("iox2: invalid attribute")
	ErrInvalidQoS         = errors.New("iox2: invalid quality of service")
	ErrInvalidType        = errors.New("iox2: payload type is not a fixed-layout, pointer-free type")

	// Opening and creating services.
	ErrServiceNotExist         = errors.New("iox2: service does not exist")
	ErrServiceExists           = errors.New("iox2: service already exists")
	ErrIncompatiblePattern     = errors.New("iox2: service exists with another messaging pattern")
	ErrIncompatibleTypes       = errors.New("iox2: incompatible payload types")
	ErrIncompatibleQoS         = errors.New("iox2: incompatible quality of service")
	ErrIncompatibleAttributes  = errors.New("iox2: incompatible attributes")
	ErrVersionMismatch         = errors.New("iox2: service uses another protocol version")
	ErrServiceCorrupted        = errors.New("iox2: service is in a corrupted state")
	ErrServiceInFlux           = errors.New("iox2: service kept being created and removed; gave up")
	ErrExceedsMaxNodes         = errors.New("iox2: service already has its maximum number of nodes")
	ErrPermission              = errors.New("iox2: insufficient permissions")
	ErrExceedsMaxPublishers    = errors.New("iox2: service already has its maximum number of publishers")
	ErrExceedsMaxSubscribers   = errors.New("iox2: service already has its maximum number of subscribers")
	ErrBufferSizeExceedsMax    = errors.New("iox2: subscriber buffer size exceeds the service's maximum")
	ErrHistoryRequestExceeds   = errors.New("iox2: history request exceeds the service's history size or the subscriber's buffer")
	ErrClosed                  = errors.New("iox2: use of a closed node, service or port")
	ErrNodeInterrupted         = errors.New("iox2: interrupted (SIGINT)")
	ErrNodeTerminationRequest  = errors.New("iox2: termination requested (SIGTERM)")
	ErrExceedsMaxLoans         = errors.New("iox2: the port (publisher, client or server) already has its maximum number of loaned samples")
	ErrOutOfMemory             = errors.New("iox2: the sending port's chunk pool is exhausted")
	ErrExceedsMaxBorrows       = errors.New("iox2: the receiving port already holds its maximum number of borrowed samples")
	ErrSampleNotOwned          = errors.New("iox2: sample was already sent or released")
	ErrUnableToDeliver         = errors.New("iox2: unable to deliver the sample")
	ErrConnectionCorrupted     = errors.New("iox2: connection is corrupted")
	ErrConnectionNotReady      = errors.New("iox2: connection is not ready yet")
	ErrSliceLengthExceedsLimit = errors.New("iox2: slice length exceeds the port's maximum")
	// ErrResourceLimit: a service's QoS, or a port's settings, ask for more
	// than a port can have: more chunks than a chunk index addresses, a
	// queue longer than a queue can be, or more memory than
	// Config.PortMemoryLimit. It refines ErrInvalidQoS: errors.Is(err,
	// ErrInvalidQoS) holds for it too.
	ErrResourceLimit = fmt.Errorf("%w: it exceeds a resource limit", ErrInvalidQoS)

	// Events.
	ErrExceedsMaxNotifiers = errors.New("iox2: service already has its maximum number of notifiers")
	ErrExceedsMaxListeners = errors.New("iox2: service already has its maximum number of listeners")
	ErrEventIDOutOfBounds  = errors.New("iox2: event id exceeds the service's event id max value")
	ErrMissedDeadline      = errors.New("iox2: notification delivered, but later than the service's deadline after the previous one")
	// ErrWaitUnsupported is no longer returned: blocking waits park
	// goroutines in Go's network poller, which every Linux has (they once
	// needed futex_waitv, Linux 5.16).
	//
	// Deprecated: nothing returns it.
	ErrWaitUnsupported = errors.New("iox2: blocking waits need futex_waitv (Linux 5.16 or later, syscall 449 allowed by seccomp)")

	// Request-response.
	ErrExceedsMaxClients        = errors.New("iox2: service already has its maximum number of clients")
	ErrExceedsMaxServers        = errors.New("iox2: service already has its maximum number of servers")
	ErrExceedsMaxActiveRequests = errors.New("iox2: client already has its maximum number of active requests")
	ErrActiveRequestsExceedMax  = errors.New("iox2: client max active requests exceeds the service's max active requests per client")
	// ErrStreamEnded: no server holds the request any more (each that
	// received it closed it, went away or died) and no response is queued;
	// PendingResponse.BlockingReceive returns it, and Responses ends.
	ErrStreamEnded = errors.New("iox2: response stream ended: no server holds the request and no response is queued")

	// Cleanup.
	ErrCleanupInProgress = errors.New("iox2: another cleaner is still cleaning up the dead node")

	// WaitSet.
	ErrNoAttachments   = errors.New("iox2: waitset has no attachments")
	ErrAlreadyAttached = errors.New("iox2: port is already attached to the waitset")
	ErrWaitSetFull     = errors.New("iox2: waitset has reached its capacity")
	ErrInvalidInterval = errors.New("iox2: waitset deadline or interval must be positive")
)

// ServiceError describes a failed operation on a service: which operation,
// which service, what went wrong (Err) and, for incompatibilities, both
// sides.
//
// Err is a sentinel, or, when the operating system refused something that
// no sentinel covers (a full directory, a read-only file system, a Root or
// ShmDir that is not a directory, ...), the error of the operating system
// itself: it names the path or directory, and errors.Is finds its errno
// (syscall.ENOSPC, syscall.EROFS, syscall.ENOTDIR, ...).
type ServiceError struct {
	Op      string // "create", "open", "open or create", "publisher", "subscriber", ...
	Service string // the service name
	Err     error  // the sentinel, e.g. ErrIncompatibleTypes, or an error of the operating system
	Detail  string // what differs: "requested X, service has Y"
}

func (e *ServiceError) Error() string {
	s := fmt.Sprintf("%s service %q: %v", e.Op, e.Service, e.Err)
	if d := strings.TrimPrefix(e.Detail, e.Err.Error()+": "); d != "" && d != e.Err.Error() {
		s += ": " + d
	}
	if errors.Is(e.Err, ErrServiceCorrupted) {
		s += " (once no node holds it, iox2 clean or CleanupDeadNodes removes it, and so does, by default, the next node creation)"
	}
	return s
}

func (e *ServiceError) Unwrap() error { return e.Err }
