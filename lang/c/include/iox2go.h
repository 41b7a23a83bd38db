/* iox2go.h: the C library of iox2go, a second implementation of the protocol
 * that docs/PROTOCOL.md specifies. A C process that uses it exchanges
 * samples, events, requests and responses with Go processes (and other C
 * processes) through the same shared memory, zero-copy.
 *
 * Conventions (those of sqlite3.h and liburing.h):
 *   - Opaque handles. Every *_create / *_open is paired with a *_close.
 *   - Every function that can fail returns an int error code: IOX2_OK (0) or
 *     one of the IOX2_E_* codes below. iox2_errstr() names a code;
 *     iox2_node_errmsg() gives the detail of the last error of a node and of
 *     everything made from it ("file:what happened", as the Go runtime says).
 *   - No hidden global state and no background thread: a node and every
 *     service, port and sample made from it belong to one thread at a time
 *     (use one node per thread, or a lock of your own). Work that the Go
 *     runtime does in its dispatcher goroutine (connecting to new ports,
 *     delivering history, noticing closed peers) is done inside the calls
 *     of the ports: every loan, send, receive and wait looks at the
 *     service's change counter first (one atomic load).
 *   - The hot path (loan, send, receive, release) allocates nothing: the
 *     sample handles are preallocated by their port, one per loan or
 *     borrow that the port allows.
 *   - Sizes are in bytes; lengths of slice payloads are in elements.
 *   - Timeouts are in nanoseconds: 0 checks once, IOX2_FOREVER (-1) blocks.
 *
 * Build: lang/c/Makefile builds build/libiox2go.a with the system C compiler
 * (C11, libc only). Link with -liox2go.
 */
#ifndef IOX2GO_H
#define IOX2GO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this library (the software). */
#define IOX2GO_VERSION "0.1.0"

/* ---------------------------------------------------------------------------
 * Error codes. The values are stable; iox2_errstr(code) names each. The
 * codes mirror the Go runtime's errors (runtime/errors.go): the text of
 * iox2_errstr is the Go sentinel's text.
 */
enum {
	IOX2_OK = 0,
	IOX2_E_INVALID_ARGUMENT = 1,     /* a NULL handle, a bad option value */
	IOX2_E_NO_MEMORY = 2,            /* malloc failed (never on the hot path) */
	IOX2_E_OS = 3,                   /* a system call failed: errno and path in the node's errmsg */
	IOX2_E_TIMEOUT = 4,              /* a wait ended before anything arrived */
	IOX2_E_CLOSED = 5,               /* use of a closed node, service or port */
	IOX2_E_PERMISSION = 6,
	IOX2_E_INVALID_SERVICE_NAME = 10,
	IOX2_E_INVALID_NODE_NAME = 11,
	IOX2_E_INVALID_ATTRIBUTE = 12,
	IOX2_E_INVALID_QOS = 13,
	IOX2_E_INVALID_TYPE = 14,
	IOX2_E_RESOURCE_LIMIT = 15,      /* the QoS exceeds a resource limit (port memory, chunk index) */
	IOX2_E_SERVICE_NOT_EXIST = 20,
	IOX2_E_SERVICE_EXISTS = 21,
	IOX2_E_INCOMPATIBLE_PATTERN = 22,
	IOX2_E_INCOMPATIBLE_TYPES = 23,
	IOX2_E_INCOMPATIBLE_QOS = 24,
	IOX2_E_INCOMPATIBLE_ATTRIBUTES = 25,
	IOX2_E_VERSION_MISMATCH = 26,    /* the service speaks another protocol version */
	IOX2_E_SERVICE_CORRUPTED = 27,   /* a static config or segment failed validation */
	IOX2_E_SERVICE_IN_FLUX = 28,
	IOX2_E_EXCEEDS_MAX_NODES = 29,
	IOX2_E_EXCEEDS_MAX_PUBLISHERS = 30,
	IOX2_E_EXCEEDS_MAX_SUBSCRIBERS = 31,
	IOX2_E_BUFFER_SIZE_EXCEEDS_MAX = 32,
	IOX2_E_HISTORY_REQUEST_EXCEEDS = 33,
	IOX2_E_EXCEEDS_MAX_NOTIFIERS = 34,
	IOX2_E_EXCEEDS_MAX_LISTENERS = 35,
	IOX2_E_EXCEEDS_MAX_CLIENTS = 36,
	IOX2_E_EXCEEDS_MAX_SERVERS = 37,
	IOX2_E_EXCEEDS_MAX_LOANS = 40,
	IOX2_E_OUT_OF_MEMORY = 41,       /* the sending port's chunk pool is exhausted */
	IOX2_E_EXCEEDS_MAX_BORROWS = 42,
	IOX2_E_SAMPLE_NOT_OWNED = 43,
	IOX2_E_UNABLE_TO_DELIVER = 44,
	IOX2_E_CONNECTION_CORRUPTED = 45,
	IOX2_E_SLICE_LENGTH_EXCEEDS_LIMIT = 46,
	IOX2_E_EVENT_ID_OUT_OF_BOUNDS = 50,
	IOX2_E_MISSED_DEADLINE = 51,
	IOX2_E_EXCEEDS_MAX_ACTIVE_REQUESTS = 60,
	IOX2_E_ACTIVE_REQUESTS_EXCEED_MAX = 61,
	IOX2_E_STREAM_ENDED = 62         /* no server holds the request and no response is queued */
};

/* iox2_errstr returns a static English text for code (never NULL). */
const char *iox2_errstr(int code);

/* Timeouts. */
#define IOX2_FOREVER ((int64_t)-1)

/* Values of the *_spec and *_options fields that the caller leaves to the
 * default (on create) or does not require (on open). */
#define IOX2_UNSET ((int64_t)-1)

/* ---------------------------------------------------------------------------
 * Configuration: the domain (Root, ShmDir, Prefix) and its settings, as the
 * Go runtime's Config. Two domains never see each other.
 */
typedef struct iox2_config {
	const char *root;             /* default "/tmp/iox2go" */
	const char *shm_dir;          /* default "/dev/shm" */
	const char *prefix;           /* default "iox2go_"; 1..64 of [A-Za-z0-9_.-] */
	unsigned file_mode;           /* default 0600; no bits for others (0007) */
	int64_t creation_timeout_ns;  /* default 500 ms; at least 1 ms */
	uint64_t port_memory_limit;   /* default 1 GiB; at least 1 MiB */
} iox2_config;

/* iox2_config_default fills cfg with the defaults above. */
void iox2_config_default(iox2_config *cfg);

/* ---------------------------------------------------------------------------
 * Nodes. A node is a participant: a lock, a record and a doorbell under
 * <root>/nodes. Other processes judge it alive while its process lives;
 * when it dies, any Go node of the domain (or `iox2 clean`) removes every
 * file it left.
 */
typedef struct iox2_node iox2_node;

/* iox2_node_create creates a node in the domain of cfg (NULL: defaults).
 * name may be NULL or "" (no name), else at most 128 bytes. On failure
 * *out is NULL and the code says why; the detail is lost with the node, so
 * use iox2_last_create_error for it. */
int iox2_node_create(const iox2_config *cfg, const char *name, iox2_node **out);

/* iox2_last_create_error returns the detail of the last failed
 * iox2_node_create of this thread ("" if none). */
const char *iox2_last_create_error(void);

/* iox2_node_close closes every service and port still open on the node and
 * removes the node's files. NULL is a no-op. */
int iox2_node_close(iox2_node *node);

/* iox2_node_id returns the node's 64-bit ID (as Go prints it: 16 hex digits). */
uint64_t iox2_node_id(const iox2_node *node);

/* iox2_node_errmsg returns the detail of the last error of node or of a
 * service or port made from it: the code's text, then what and where. */
const char *iox2_node_errmsg(const iox2_node *node);

/* iox2_node_fd returns the node's doorbell: a file descriptor that polls
 * readable when something the node waits for may have happened. For an
 * event loop (poll, epoll): after it polls readable, call the ports'
 * non-blocking functions; they consume the doorbell. */
int iox2_node_fd(const iox2_node *node);

/* ---------------------------------------------------------------------------
 * Type identity, attributes and QoS. A service stores the identity of its
 * payload types; every opener must present the same (name, size,
 * alignment, layout hash). iox2gen emits these for each IDL type
 * (robot_Imu_TYPE_NAME, ..._SIZE, ..._ALIGN, ..._LAYOUT_HASH, ..._LAYOUT).
 */
typedef struct iox2_type_info {
	const char *name;        /* scoped IDL name, e.g. "robot::Imu" */
	uint64_t size;           /* bytes, a multiple of align */
	uint64_t align;          /* a power of two */
	const char *layout_hash; /* hex SHA-256 of layout */
	const char *layout;      /* the canonical layout text (stored on create) */
} iox2_type_info;

typedef struct iox2_attribute {
	const char *key;
	const char *value;
} iox2_attribute;

/* Backpressure of a sender whose receiver's queue is full (safe overflow off). */
enum { IOX2_RETRY_UNTIL_DELIVERED = 0, IOX2_DISCARD_DATA = 1 };

/* How a service is obtained. */
enum { IOX2_OPEN = 0, IOX2_CREATE = 1, IOX2_OPEN_OR_CREATE = 2 };

/* Every int64_t QoS field is IOX2_UNSET or a value: on create, an unset
 * field takes the default (iceoryx2's); on open, a set field is a minimum
 * that the existing service must meet, except the safe-overflow flags,
 * which must be equal (as in the Go builders). Booleans are int64_t too:
 * IOX2_UNSET, 0 or 1. */
typedef struct iox2_pubsub_spec {
	const char *name;                 /* the service name, e.g. "robot/imu" */
	iox2_type_info payload;           /* the payload type, or the element type of a slice */
	bool slice;                       /* payload is a slice of elements */
	const iox2_type_info *user_header;/* NULL: none */
	int64_t max_publishers;           /* default 2 */
	int64_t max_subscribers;          /* default 8 */
	int64_t max_nodes;                /* default 20 */
	int64_t history_size;             /* default 0 */
	int64_t subscriber_max_buffer_size;       /* default 2 */
	int64_t subscriber_max_borrowed_samples;  /* default 2 */
	int64_t enable_safe_overflow;     /* default 1 */
	const iox2_attribute *attributes; /* stored on create */
	size_t num_attributes;
	const iox2_attribute *required_attributes; /* checked on open */
	size_t num_required_attributes;
} iox2_pubsub_spec;

typedef struct iox2_event_spec {
	const char *name;
	int64_t max_notifiers;            /* default 16 */
	int64_t max_listeners;            /* default 16 */
	int64_t max_nodes;                /* default 36 */
	int64_t event_id_max_value;       /* default 255 */
	int64_t deadline_ns;              /* default 0: none */
	int64_t notifier_created_event;   /* default IOX2_UNSET: none */
	int64_t notifier_dropped_event;
	int64_t notifier_dead_event;
	const iox2_attribute *attributes;
	size_t num_attributes;
	const iox2_attribute *required_attributes;
	size_t num_required_attributes;
} iox2_event_spec;

typedef struct iox2_reqres_spec {
	const char *name;
	iox2_type_info request;
	bool request_slice;
	iox2_type_info response;
	bool response_slice;
	int64_t enable_safe_overflow_for_requests;  /* default 1 */
	int64_t enable_safe_overflow_for_responses; /* default 1 */
	int64_t enable_fire_and_forget_requests;    /* default 1 */
	int64_t max_active_requests_per_client;     /* default 4 */
	int64_t max_loaned_requests;                /* default 2 */
	int64_t max_response_buffer_size;           /* default 2 */
	int64_t max_borrowed_responses_per_pending_response; /* default 2 */
	int64_t max_servers;                        /* default 2 */
	int64_t max_clients;                        /* default 8 */
	int64_t max_nodes;                          /* default 20 */
	const iox2_attribute *attributes;
	size_t num_attributes;
	const iox2_attribute *required_attributes;
	size_t num_required_attributes;
} iox2_reqres_spec;

/* The *_spec_init functions set name (and the types) and every other field
 * to IOX2_UNSET / NULL / false. */
void iox2_pubsub_spec_init(iox2_pubsub_spec *spec, const char *name, const iox2_type_info *payload);
void iox2_event_spec_init(iox2_event_spec *spec, const char *name);
void iox2_reqres_spec_init(iox2_reqres_spec *spec, const char *name,
                           const iox2_type_info *request, const iox2_type_info *response);

/* ---------------------------------------------------------------------------
 * Services. mode is IOX2_OPEN, IOX2_CREATE or IOX2_OPEN_OR_CREATE. Opening
 * checks what the Go runtime checks, with the same messages: protocol
 * version, pattern, type identity, attributes, QoS, and every value of the
 * static config against this process's limits.
 */
typedef struct iox2_service iox2_service;

int iox2_pubsub_service(iox2_node *node, const iox2_pubsub_spec *spec, int mode, iox2_service **out);
int iox2_event_service(iox2_node *node, const iox2_event_spec *spec, int mode, iox2_service **out);
int iox2_reqres_service(iox2_node *node, const iox2_reqres_spec *spec, int mode, iox2_service **out);

/* iox2_service_close leaves the service (closing its ports first); the last
 * node to leave removes it. NULL is a no-op. */
int iox2_service_close(iox2_service *service);

const char *iox2_service_name(const iox2_service *service);

/* ---------------------------------------------------------------------------
 * Publish-subscribe.
 */
typedef struct iox2_publisher iox2_publisher;
typedef struct iox2_subscriber iox2_subscriber;
typedef struct iox2_sample_mut iox2_sample_mut; /* a loaned sample, owned by its publisher */
typedef struct iox2_sample iox2_sample;         /* a received sample, owned by its subscriber */

typedef struct iox2_publisher_options {
	int64_t max_loaned_samples; /* default 2 */
	int64_t max_slice_len;      /* slice services: elements per sample; default 1 */
	int64_t backpressure;       /* IOX2_RETRY_UNTIL_DELIVERED (default) or IOX2_DISCARD_DATA */
} iox2_publisher_options;

typedef struct iox2_subscriber_options {
	int64_t buffer_size;        /* default: the service's subscriber_max_buffer_size */
	int64_t history_request;    /* default: min(history_size, buffer_size) */
} iox2_subscriber_options;

void iox2_publisher_options_init(iox2_publisher_options *o);
void iox2_subscriber_options_init(iox2_subscriber_options *o);

/* o may be NULL: defaults. */
int iox2_publisher_create(iox2_service *service, const iox2_publisher_options *o, iox2_publisher **out);
int iox2_publisher_close(iox2_publisher *pub);
uint64_t iox2_publisher_id(const iox2_publisher *pub);

/* iox2_publisher_update_connections does what every loan and send does
 * first: when the service's ports changed, it connects to new subscribers
 * (delivering their history) and drops vanished ones; it also takes back
 * the samples that subscribers released. An idle publisher calls it when
 * its node's fd polls readable (or every few milliseconds), so that a late
 * subscriber gets its history without waiting for the next send. */
int iox2_publisher_update_connections(iox2_publisher *pub);

/* iox2_publisher_loan lends a sample of len elements (1 unless the service
 * is a slice service), zeroed; _uninit leaves its bytes as they are. */
int iox2_publisher_loan(iox2_publisher *pub, uint64_t len, iox2_sample_mut **out);
int iox2_publisher_loan_uninit(iox2_publisher *pub, uint64_t len, iox2_sample_mut **out);

void *iox2_sample_mut_payload(iox2_sample_mut *s);
void *iox2_sample_mut_user_header(iox2_sample_mut *s); /* NULL: the service has none */
uint64_t iox2_sample_mut_len(const iox2_sample_mut *s);

/* iox2_sample_mut_send delivers s to every subscriber (their count in
 * *delivered, which may be NULL) and ends the loan, also on error. */
int iox2_sample_mut_send(iox2_sample_mut *s, size_t *delivered);
/* iox2_sample_mut_release ends the loan without sending. */
void iox2_sample_mut_release(iox2_sample_mut *s);

int iox2_subscriber_create(iox2_service *service, const iox2_subscriber_options *o, iox2_subscriber **out);
int iox2_subscriber_close(iox2_subscriber *sub);
uint64_t iox2_subscriber_id(const iox2_subscriber *sub);

/* iox2_subscriber_receive takes the next sample: IOX2_OK with *out set, or
 * IOX2_OK with *out NULL when none is there. */
int iox2_subscriber_receive(iox2_subscriber *sub, const iox2_sample **out);
/* iox2_subscriber_wait blocks until a sample can be received, at most
 * timeout_ns: IOX2_OK or IOX2_E_TIMEOUT. It sleeps in the kernel (on the
 * node's doorbell, the same wake-up the Go runtime uses), costing no CPU. */
int iox2_subscriber_wait(iox2_subscriber *sub, int64_t timeout_ns);

const void *iox2_sample_payload(const iox2_sample *s);
const void *iox2_sample_user_header(const iox2_sample *s);
uint64_t iox2_sample_len(const iox2_sample *s);
uint64_t iox2_sample_sequence(const iox2_sample *s);
uint64_t iox2_sample_publisher(const iox2_sample *s);
/* iox2_sample_release gives the sample back to its publisher. */
void iox2_sample_release(const iox2_sample *s);

/* ---------------------------------------------------------------------------
 * Events.
 */
typedef struct iox2_notifier iox2_notifier;
typedef struct iox2_listener iox2_listener;

/* default_event_id: the id of iox2_notifier_notify (IOX2_UNSET: 0). */
int iox2_notifier_create(iox2_service *service, int64_t default_event_id, iox2_notifier **out);
int iox2_notifier_close(iox2_notifier *n);
uint64_t iox2_notifier_id(const iox2_notifier *n);
/* The number of listeners notified goes to *notified (may be NULL). */
int iox2_notifier_notify(iox2_notifier *n, size_t *notified);
int iox2_notifier_notify_id(iox2_notifier *n, uint64_t event_id, size_t *notified);

int iox2_listener_create(iox2_service *service, iox2_listener **out);
int iox2_listener_close(iox2_listener *l);
uint64_t iox2_listener_id(const iox2_listener *l);
/* iox2_listener_wait_one takes one pending event id, waiting at most
 * timeout_ns (0: try once): IOX2_OK with *event_id set, or IOX2_E_TIMEOUT. */
int iox2_listener_wait_one(iox2_listener *l, int64_t timeout_ns, uint64_t *event_id);
/* iox2_listener_wait_all waits at most timeout_ns for the first event, then
 * calls fn once per pending event id; *count (may be NULL) gets how many. */
int iox2_listener_wait_all(iox2_listener *l, int64_t timeout_ns,
                           void (*fn)(void *ctx, uint64_t event_id), void *ctx, size_t *count);

/* ---------------------------------------------------------------------------
 * Request-response. A client sends a request and receives a stream of
 * responses to it through its pending response; a server receives active
 * requests and answers each with any number of responses.
 */
typedef struct iox2_client iox2_client;
typedef struct iox2_server iox2_server;
typedef struct iox2_request_mut iox2_request_mut;
typedef struct iox2_pending_response iox2_pending_response;
typedef struct iox2_response iox2_response;
typedef struct iox2_active_request iox2_active_request;
typedef struct iox2_response_mut iox2_response_mut;

typedef struct iox2_client_options {
	int64_t max_active_requests; /* default: the service's max_active_requests_per_client */
	int64_t max_slice_len;       /* default 1 */
	int64_t backpressure;        /* default IOX2_RETRY_UNTIL_DELIVERED */
} iox2_client_options;

typedef struct iox2_server_options {
	int64_t max_loaned_responses_per_request; /* default 2 */
	int64_t max_slice_len;                    /* default 1 */
	int64_t backpressure;                     /* default IOX2_RETRY_UNTIL_DELIVERED */
} iox2_server_options;

void iox2_client_options_init(iox2_client_options *o);
void iox2_server_options_init(iox2_server_options *o);

int iox2_client_create(iox2_service *service, const iox2_client_options *o, iox2_client **out);
int iox2_client_close(iox2_client *c);
uint64_t iox2_client_id(const iox2_client *c);
/* iox2_client_update_connections and iox2_server_update_connections are
 * what iox2_publisher_update_connections is for a publisher: connect to
 * new peers, drop vanished ones, take back released chunks (and, for a
 * client, give late responses to given-up requests back). For an idle port
 * whose node fd polled readable. */
int iox2_client_update_connections(iox2_client *c);
int iox2_client_loan(iox2_client *c, uint64_t len, iox2_request_mut **out);
int iox2_client_loan_uninit(iox2_client *c, uint64_t len, iox2_request_mut **out);

void *iox2_request_mut_payload(iox2_request_mut *r);
uint64_t iox2_request_mut_len(const iox2_request_mut *r);
/* iox2_request_mut_send sends the request and ends the loan (also on
 * error); the responses arrive through *out. */
int iox2_request_mut_send(iox2_request_mut *r, iox2_pending_response **out);
void iox2_request_mut_release(iox2_request_mut *r);

/* iox2_pending_response_receive: IOX2_OK with *out set or NULL (none yet),
 * or IOX2_E_STREAM_ENDED when no server holds the request any more and no
 * response is queued. */
int iox2_pending_response_receive(iox2_pending_response *p, const iox2_response **out);
/* Blocks until a response can be received or the stream ended, at most
 * timeout_ns: IOX2_OK, IOX2_E_STREAM_ENDED or IOX2_E_TIMEOUT. */
int iox2_pending_response_wait(iox2_pending_response *p, int64_t timeout_ns);
bool iox2_pending_response_is_connected(iox2_pending_response *p);
void iox2_pending_response_set_disconnect_hint(iox2_pending_response *p);
uint64_t iox2_pending_response_request_id(const iox2_pending_response *p);
/* iox2_pending_response_close gives the request slot up; responses still
 * held stay valid until released. */
void iox2_pending_response_close(iox2_pending_response *p);

const void *iox2_response_payload(const iox2_response *r);
uint64_t iox2_response_len(const iox2_response *r);
uint64_t iox2_response_server(const iox2_response *r);
void iox2_response_release(const iox2_response *r);

int iox2_server_create(iox2_service *service, const iox2_server_options *o, iox2_server **out);
int iox2_server_close(iox2_server *s);
uint64_t iox2_server_id(const iox2_server *s);
/* iox2_server_receive: IOX2_OK with *out set or NULL (none). */
int iox2_server_receive(iox2_server *s, iox2_active_request **out);
int iox2_server_wait(iox2_server *s, int64_t timeout_ns);
int iox2_server_update_connections(iox2_server *s);

const void *iox2_active_request_payload(const iox2_active_request *r);
uint64_t iox2_active_request_len(const iox2_active_request *r);
uint64_t iox2_active_request_client(const iox2_active_request *r);
uint64_t iox2_active_request_id(const iox2_active_request *r);
bool iox2_active_request_is_connected(const iox2_active_request *r);
bool iox2_active_request_has_disconnect_hint(const iox2_active_request *r);
int iox2_active_request_loan(iox2_active_request *r, uint64_t len, iox2_response_mut **out);
int iox2_active_request_loan_uninit(iox2_active_request *r, uint64_t len, iox2_response_mut **out);
/* iox2_active_request_close ends the stream: the client's pending response
 * sees it end once it has received what was sent. */
void iox2_active_request_close(iox2_active_request *r);

void *iox2_response_mut_payload(iox2_response_mut *m);
uint64_t iox2_response_mut_len(const iox2_response_mut *m);
int iox2_response_mut_send(iox2_response_mut *m);
void iox2_response_mut_release(iox2_response_mut *m);

#ifdef __cplusplus
}
#endif

#endif /* IOX2GO_H */
