/* internal.h: the internal API between the modules of the C library.
 *
 * Owners: node/service/events (helper cnode: error.c, sha256.c, json.c,
 * shm.c, node.c, static_config.c, limits.c, service.c, event.c) and the data
 * path (helper cdata: ring.c, data.c, sender.c, receiver.c, pubsub.c,
 * reqres.c). /work/wt/notes/c-internal.md describes this API in prose.
 *
 * Every structure of shared memory here mirrors a Go struct of
 * runtime/internal/protocol byte for byte: the _Static_asserts below hold
 * each size and field offset to the generated iox2go_layout.h.
 */
#ifndef IOX2GO_INTERNAL_H
#define IOX2GO_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "iox2go.h"

/* Messages and paths are written with snprintf into bounded buffers, and a
 * message cut at the buffer's end is what is meant: no warning for it. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

/* ---------------------------------------------------------------------------
 * Protocol constants. iox2go_layout.h is generated from the Go structs
 * (TestCLayoutHeader in runtime/internal/protocol): the asserts at the end
 * of the structs below hold every size, offset and constant of this file to
 * it, so a drift between the two implementations fails this compile.
 */
#include "iox2go_layout.h"

#define IOX2I_LAYOUT_VERSION ((uint32_t)IOX2P_PROTOCOL_VERSION)
#define IOX2I_STATIC_VERSION IOX2P_PROTOCOL_VERSION_STRING

#define IOX2I_MAGIC ((uint32_t)0x69783267) /* "ix2g": shm.Magic */
#define IOX2I_HEADER_SIZE 128              /* shm.HeaderSize */

/* Segment kinds (runtime/dynamic.go). */
enum {
	IOX2I_KIND_DYNAMIC = 1,
	IOX2I_KIND_DATA = 2,
	IOX2I_KIND_CONNECTION = 3,
	IOX2I_KIND_EVENT = 4
};

/* Messaging patterns (runtime.Pattern; iceoryx2's numbers). */
enum {
	IOX2I_PATTERN_PUBSUB = 0,
	IOX2I_PATTERN_EVENT = 1,
	IOX2I_PATTERN_REQRES = 2
};

/* Port slot states (runtime/dynamic.go). */
enum { IOX2I_SLOT_FREE = 0, IOX2I_SLOT_ACTIVE = 2, IOX2I_SLOT_DRAINING = 3 };

/* Name limits (runtime/servicename.go). */
#define IOX2I_MAX_SERVICE_NAME 255
#define IOX2I_MAX_NODE_NAME 128
#define IOX2I_MAX_ATTR_KEY 64
#define IOX2I_MAX_ATTR_VALUE 256
#define IOX2I_MAX_ATTRIBUTES 8
#define IOX2I_MAX_QOS_VALUE 65536   /* every count of a QoS: at most 1 << 16 */
#define IOX2I_MAX_EVENT_ID 65535    /* maxEventIDLimit */
#define IOX2I_MIN_EVENT_DEADLINE_NS 1000000 /* MinEventDeadline: 1 ms */
#define IOX2I_RING_MAX_CAPACITY ((1u << 24) - 1) /* ring.MaxCapacity */

/* ---------------------------------------------------------------------------
 * Shared-memory structures.
 */

/* shm.Header: the first 128 bytes of every segment. */
typedef struct iox2i_shm_header {
	_Atomic uint64_t ready;   /* Magic<<32 | layout version, 0 until published */
	uint32_t kind;
	uint32_t reserved;
	uint64_t size;            /* of the mapping */
	uint64_t creator_pid;     /* diagnostics */
	int64_t created_nanos;    /* diagnostics, Unix ns */
	uint8_t pad[IOX2I_HEADER_SIZE - 40];
} iox2i_shm_header;

/* dynHeader: follows the shm header of a dynamic config segment. */
typedef struct iox2i_dyn_header {
	_Atomic uint64_t destroyer;
	uint8_t pad0[120];
	_Atomic uint32_t changes;
	uint8_t pad1[124];
	_Atomic int64_t last_notification;
	uint8_t pad2[120];
	uint32_t max_nodes;
	uint32_t max_publishers;
	uint32_t max_subscribers;
	uint32_t pattern;
	uint8_t pad3[112];
} iox2i_dyn_header;

/* nodeSlot */
typedef struct iox2i_node_slot {
	_Atomic uint64_t id;
	_Atomic uint64_t wake;
} iox2i_node_slot;

/* portSlot. a, b, c depend on the role (see runtime/dynamic.go):
 * subscriber: a = buffer size, b = history request; publisher: a = max
 * slice length. */
typedef struct iox2i_port_slot {
	_Atomic uint64_t state;
	_Atomic uint64_t id;
	_Atomic uint64_t node;
	_Atomic uint64_t a;
	_Atomic uint64_t b;
	_Atomic uint64_t c;
	_Atomic int64_t drain_by;
	_Atomic uint64_t wake;
} iox2i_port_slot;

/* eventHeader: follows the shm header of a listener's event segment. */
typedef struct iox2i_event_header {
	_Atomic uint64_t wake;
	uint8_t pad0[120];
	uint64_t listener;
	uint64_t num_ids;
	uint8_t pad1[112];
} iox2i_event_header;

_Static_assert(sizeof(iox2i_shm_header) == 128, "shm.Header is 128 bytes");
_Static_assert(offsetof(iox2i_shm_header, kind) == 8, "shm.Header.kind");
_Static_assert(offsetof(iox2i_shm_header, size) == 16, "shm.Header.size");
_Static_assert(offsetof(iox2i_shm_header, creator_pid) == 24, "shm.Header.creatorPID");
_Static_assert(offsetof(iox2i_shm_header, created_nanos) == 32, "shm.Header.createdNanos");
_Static_assert(sizeof(iox2i_dyn_header) == 512, "dynHeader is 512 bytes");
_Static_assert(offsetof(iox2i_dyn_header, changes) == 128, "dynHeader.changes");
_Static_assert(offsetof(iox2i_dyn_header, last_notification) == 256, "dynHeader.lastNotification");
_Static_assert(offsetof(iox2i_dyn_header, max_nodes) == 384, "dynHeader.maxNodes");
_Static_assert(offsetof(iox2i_dyn_header, pattern) == 396, "dynHeader.pattern");
_Static_assert(sizeof(iox2i_node_slot) == 16, "nodeSlot is 16 bytes");
_Static_assert(sizeof(iox2i_port_slot) == 64, "portSlot is 64 bytes");
_Static_assert(offsetof(iox2i_port_slot, wake) == 56, "portSlot.wake");
_Static_assert(sizeof(iox2i_event_header) == 256, "eventHeader is 256 bytes");
_Static_assert(offsetof(iox2i_event_header, listener) == 128, "eventHeader.listener");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && _Alignof(_Atomic uint64_t) == 8, "8-byte atomics");

/* Against the generated header: the Go structs' own numbers. */
#define IOX2I_AT(T, f, M) _Static_assert(offsetof(T, f) == (M), #T "." #f " is at " #M)
_Static_assert(IOX2I_MAGIC == IOX2P_SHM_MAGIC && IOX2I_HEADER_SIZE == IOX2P_SHM_HEADER_SIZE, "shm magic, header size");
_Static_assert(sizeof(iox2i_shm_header) == IOX2P_SHM_HEADER_SIZE, "shm header size");
IOX2I_AT(iox2i_shm_header, ready, IOX2P_SHM_HEADER_READY_OFFSET);
IOX2I_AT(iox2i_shm_header, kind, IOX2P_SHM_HEADER_KIND_OFFSET);
IOX2I_AT(iox2i_shm_header, size, IOX2P_SHM_HEADER_SIZE_OFFSET);
IOX2I_AT(iox2i_shm_header, creator_pid, IOX2P_SHM_HEADER_CREATOR_PID_OFFSET);
IOX2I_AT(iox2i_shm_header, created_nanos, IOX2P_SHM_HEADER_CREATED_NANOS_OFFSET);
_Static_assert(sizeof(iox2i_dyn_header) == IOX2P_DYN_HEADER_SIZE, "dynamic header size");
IOX2I_AT(iox2i_dyn_header, destroyer, IOX2P_DYN_HEADER_DESTROYER_OFFSET);
IOX2I_AT(iox2i_dyn_header, changes, IOX2P_DYN_HEADER_CHANGES_OFFSET);
IOX2I_AT(iox2i_dyn_header, last_notification, IOX2P_DYN_HEADER_LAST_NOTIFICATION_OFFSET);
IOX2I_AT(iox2i_dyn_header, max_nodes, IOX2P_DYN_HEADER_MAX_NODES_OFFSET);
IOX2I_AT(iox2i_dyn_header, max_publishers, IOX2P_DYN_HEADER_MAX_PUBLISHERS_OFFSET);
IOX2I_AT(iox2i_dyn_header, max_subscribers, IOX2P_DYN_HEADER_MAX_SUBSCRIBERS_OFFSET);
IOX2I_AT(iox2i_dyn_header, pattern, IOX2P_DYN_HEADER_PATTERN_OFFSET);
_Static_assert(sizeof(iox2i_node_slot) == IOX2P_NODE_SLOT_SIZE, "node slot size");
IOX2I_AT(iox2i_node_slot, id, IOX2P_NODE_SLOT_ID_OFFSET);
IOX2I_AT(iox2i_node_slot, wake, IOX2P_NODE_SLOT_WAKE_OFFSET);
_Static_assert(sizeof(iox2i_port_slot) == IOX2P_PORT_SLOT_SIZE, "port slot size");
IOX2I_AT(iox2i_port_slot, state, IOX2P_PORT_SLOT_STATE_OFFSET);
IOX2I_AT(iox2i_port_slot, id, IOX2P_PORT_SLOT_ID_OFFSET);
IOX2I_AT(iox2i_port_slot, node, IOX2P_PORT_SLOT_NODE_OFFSET);
IOX2I_AT(iox2i_port_slot, a, IOX2P_PORT_SLOT_ROLE_A_OFFSET);
IOX2I_AT(iox2i_port_slot, b, IOX2P_PORT_SLOT_ROLE_B_OFFSET);
IOX2I_AT(iox2i_port_slot, c, IOX2P_PORT_SLOT_ROLE_C_OFFSET);
IOX2I_AT(iox2i_port_slot, drain_by, IOX2P_PORT_SLOT_DRAIN_BY_OFFSET);
IOX2I_AT(iox2i_port_slot, wake, IOX2P_PORT_SLOT_WAKE_OFFSET);
_Static_assert(sizeof(iox2i_event_header) == IOX2P_EVENT_HEADER_SIZE, "event header size");
IOX2I_AT(iox2i_event_header, wake, IOX2P_EVENT_HEADER_WAKE_OFFSET);
IOX2I_AT(iox2i_event_header, listener, IOX2P_EVENT_HEADER_LISTENER_OFFSET);
IOX2I_AT(iox2i_event_header, num_ids, IOX2P_EVENT_HEADER_NUM_IDS_OFFSET);
_Static_assert(IOX2I_KIND_DYNAMIC == IOX2P_KIND_DYNAMIC && IOX2I_KIND_DATA == IOX2P_KIND_DATA &&
                   IOX2I_KIND_CONNECTION == IOX2P_KIND_CONNECTION && IOX2I_KIND_EVENT == IOX2P_KIND_EVENT,
               "segment kinds");
_Static_assert(IOX2I_PATTERN_PUBSUB == IOX2P_PATTERN_PUBLISH_SUBSCRIBE && IOX2I_PATTERN_EVENT == IOX2P_PATTERN_EVENT &&
                   IOX2I_PATTERN_REQRES == IOX2P_PATTERN_REQUEST_RESPONSE,
               "patterns");
_Static_assert(IOX2I_SLOT_FREE == IOX2P_SLOT_FREE && IOX2I_SLOT_ACTIVE == IOX2P_SLOT_ACTIVE &&
                   IOX2I_SLOT_DRAINING == IOX2P_SLOT_DRAINING,
               "port slot states");

/* ---------------------------------------------------------------------------
 * Errors (error.c). Every function of the library returns an IOX2_E_* code
 * and, on failure, sets the errmsg of the node it works for. The text has
 * the form of the Go runtime's errors.
 */

/* iox2i_err sets node's errmsg to "<errstr(code)>: <fmt...>" (or the code's
 * text alone when fmt is NULL) and returns code. node may be NULL (then it
 * sets nothing). */
int iox2i_err(iox2_node *node, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* iox2i_errmsg_set sets node's errmsg to the text as it is. */
void iox2i_errmsg_set(iox2_node *node, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* iox2i_service_err sets the errmsg in the form of runtime.ServiceError:
 *   <op> service "<name>": <errstr(code)>[: <detail>][ (corrupted hint)]
 * detail may be NULL. Returns code. The Go text of every sentinel is what
 * iox2_errstr returns, so both languages say the same. */
int iox2i_service_err(iox2_node *node, const char *op, const char *service, int code,
                      const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));
/* iox2i_os_err: IOX2_E_OS (IOX2_E_PERMISSION for EACCES/EPERM) with
 * "<what> <path>: <strerror(err)>". */
int iox2i_os_err(iox2_node *node, int err, const char *what, const char *path);
/* iox2i_go_quote writes s quoted as Go's %q does (ASCII) into buf. */
void iox2i_go_quote(char *buf, size_t cap, const char *s);
/* Thread-local detail of the last failed iox2_node_create. */
void iox2i_set_create_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---------------------------------------------------------------------------
 * Small helpers.
 */
#define IOX2I_ERRMSG_CAP 1024

/* A growable byte buffer (json.c writes into it). */
typedef struct iox2i_buf {
	char *p;
	size_t len, cap;
	bool oom; /* an allocation failed: the content is incomplete */
} iox2i_buf;
void iox2i_buf_put(iox2i_buf *b, const char *s, size_t n);
void iox2i_buf_puts(iox2i_buf *b, const char *s);
void iox2i_buf_printf(iox2i_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void iox2i_buf_free(iox2i_buf *b);

/* sha256.c */
void iox2i_sha256(const void *data, size_t len, uint8_t out[32]);

/* IDs (node.c): random, never 0; 16 lower-case hex digits. */
uint64_t iox2i_new_id(void);
void iox2i_id_str(uint64_t id, char out[17]);
bool iox2i_parse_id(const char *s, uint64_t *out);

/* Time: CLOCK_MONOTONIC ns (futex.Now), CLOCK_REALTIME ns. */
int64_t iox2i_now(void);
int64_t iox2i_wall_now(void);
/* A deadline for a timeout as the public API takes it: -1 (IOX2_FOREVER)
 * stays -1, 0 stays 0 (check once), else now + timeout. */
int64_t iox2i_deadline(int64_t timeout_ns);
/* Saturating arithmetic (limits.go). */
uint64_t iox2i_sat_add(uint64_t a, uint64_t b);
uint64_t iox2i_sat_mul(uint64_t a, uint64_t b);

/* ---------------------------------------------------------------------------
 * Configuration and node (node.c).
 */
typedef struct iox2i_config {
	char *root, *shm_dir, *prefix;
	unsigned file_mode;
	int64_t creation_timeout_ns;
	uint64_t port_memory_limit;
} iox2i_config;

typedef struct iox2i_waitpoint iox2i_waitpoint;
typedef struct iox2i_service_list iox2i_service_list;

/* A doorbell of another node, opened for writing (a per-node cache). */
typedef struct iox2i_peer_bell {
	uint64_t id;
	int fd;
	uint64_t used;
} iox2i_peer_bell;
#define IOX2I_PEER_BELLS 64

struct iox2_node {
	uint64_t id;
	char id_str[17];
	char *name;
	iox2i_config cfg;
	char *dir;        /* <root>/nodes/<prefix><id> */
	char *lock_path;  /* <root>/nodes/<prefix><id>.lock */
	int lock_fd;      /* the flock'ed lock file; -1 once released */
	int bell_fd;      /* the doorbell FIFO, O_RDWR|O_NONBLOCK; -1: none */
	bool fd_mode;     /* iox2_node_fd was called: empty tries arm and drain */

	/* waitpoints: token = gen<<32 | (index+1) */
	iox2i_waitpoint **wps;
	uint32_t *gens;
	uint32_t nwps, capwps;
	uint32_t *free_idx;
	uint32_t nfree;

	iox2i_peer_bell peers[IOX2I_PEER_BELLS];
	uint64_t peer_clock;

	struct iox2_service *services; /* open services, a list through ->next */
	char errmsg[IOX2I_ERRMSG_CAP];
};

/* Paths and names of the domain (config.go, event_segment.go, static.go);
 * each writes into buf (cap bytes, at least 4096 for paths, 256 for
 * segment names) and returns buf. */
char *iox2i_data_name(const iox2_node *n, uint64_t port, char *buf, size_t cap);
char *iox2i_conn_name(const iox2_node *n, uint64_t from, uint64_t to, char *buf, size_t cap);
char *iox2i_event_name(const iox2_node *n, uint64_t port, char *buf, size_t cap);
char *iox2i_dynamic_name(const iox2_node *n, const char *hash, const char *uid, char *buf, size_t cap);
char *iox2i_static_path(const iox2_node *n, const char *hash, char *buf, size_t cap);
char *iox2i_node_dir_of(const iox2_node *n, uint64_t id, char *buf, size_t cap);

/* The port journal (journal.go): an empty file <port-id>.<kind>.port in
 * the node's directory, written before the port creates its first file
 * and removed after it removed its last. kind is IOX2I_JOURNAL_DATA
 * (publisher, client, server: its .data and .connection segments) or
 * IOX2I_JOURNAL_EVENT (listener: its .event segment). */
#define IOX2I_JOURNAL_DATA "data"
#define IOX2I_JOURNAL_EVENT "event"
int iox2i_journal_port(iox2_node *n, uint64_t port, const char *kind);
void iox2i_forget_port(iox2_node *n, uint64_t port, const char *kind);

/* Writes a file (mode cfg.file_mode, exactly) with content; removes it on
 * error. Returns IOX2_OK or the OS error (errmsg set). */
int iox2i_write_file(iox2_node *n, const char *path, const char *content, size_t len, bool excl);

/* ---------------------------------------------------------------------------
 * Waiting and waking (node.c): the protocol of runtime/bell.go.
 *
 * A waitpoint is a place of this node to wait at: a token in the node's
 * table and, for a receiving port, the shared word W (in its port slot or
 * event segment) that senders claim and ring. A waiter (one thread at a
 * time, per node):
 *
 *   for (;;) {
 *       if (try()) return OK;
 *       iox2i_wp_arm(wp);                 // SYNC POINT W-arm
 *       if (try()) { iox2i_wp_disarm(wp); return OK; }
 *       rc = iox2i_node_wait(node, deadline);   // poll the doorbell
 *       iox2i_wp_disarm(wp);              // SYNC POINT W-clear
 *       if (rc == IOX2_E_TIMEOUT) return rc;
 *   }
 *
 * iox2i_block does exactly that (with a short spin first, as Go's block).
 */
struct iox2i_waitpoint {
	iox2_node *node;
	uint32_t idx;
	uint64_t token;
	_Atomic uint64_t *w; /* the shared word, or NULL */
	bool armed;
	bool fired;          /* a token for it was read from the doorbell */
};

/* iox2i_wp_new registers a waitpoint with word w (may be NULL). NULL: out
 * of memory (errmsg set). */
iox2i_waitpoint *iox2i_wp_new(iox2_node *n, _Atomic uint64_t *w);
/* iox2i_wp_close clears W if it holds our token (CAS), frees the index
 * (the token turns stale) and frees wp. Call before W is unmapped. NULL ok. */
void iox2i_wp_close(iox2i_waitpoint *wp);
/* arm: store the token in W (seq_cst). disarm: CAS token -> 0. */
void iox2i_wp_arm(iox2i_waitpoint *wp);
void iox2i_wp_disarm(iox2i_waitpoint *wp);

/* iox2i_node_wait sleeps on the doorbell until a token arrives or the
 * absolute deadline (iox2i_now clock; -1: none; 0: do not sleep) passes,
 * then reads every token there and routes it (sets ->fired of the
 * waitpoint it names; a service's waitpoint is re-armed by its next
 * look). Returns IOX2_OK (woken, maybe spuriously), IOX2_E_TIMEOUT or
 * IOX2_E_OS. */
int iox2i_node_wait(iox2_node *n, int64_t deadline);
/* iox2i_node_drain reads the doorbell without blocking (fd mode). */
void iox2i_node_drain(iox2_node *n);

/* iox2i_block: the loop above. try returns 1 (done), 0 (nothing yet) or a
 * negative IOX2_E_* code (-code). wps: the waitpoints to arm (a port's,
 * and the service's to learn of changes), n of them. Returns IOX2_OK,
 * IOX2_E_TIMEOUT or the code of try. timeout_ns as the public API.
 * In fd mode (the user called iox2_node_fd for an event loop) it first
 * drains the doorbell, and a try with timeout 0 that finds nothing leaves
 * the waitpoints armed, so that the next sender rings the doorbell. */
int iox2i_block(iox2_node *n, iox2i_waitpoint **wps, int nwps, int64_t timeout_ns,
                int (*try_fn)(void *ctx), void *ctx);

/* The waker's half (claimAndRing): after publishing data, a sender does
 * atomic_thread_fence(memory_order_seq_cst) (pairs with the fence that
 * iox2i_wp_arm puts after the token), loads W and, when non-zero, calls this: Swap(W, 0), then rings the node whose ID
 * node_word holds (read after the claim) with the token; a full doorbell
 * restores the token (CAS 0 -> t). self: the calling node (its peer-bell
 * cache and errmsg). */
void iox2i_claim_and_ring(iox2_node *self, _Atomic uint64_t *w, _Atomic uint64_t *node_word);
/* iox2i_ring writes token t into the doorbell of node id; false only when
 * the doorbell is full. */
bool iox2i_ring(iox2_node *self, uint64_t node_id, uint64_t t);

/* ---------------------------------------------------------------------------
 * Segments (shm.c): files in cfg.shm_dir mapped MAP_SHARED.
 */
typedef struct iox2i_segment {
	void *base;
	size_t size;
	bool writable;
	char name[256];
} iox2i_segment;

/* iox2i_seg_create: O_CREAT|O_EXCL, fchmod, fallocate (KEEP_SIZE, in
 * 64 MiB steps), ftruncate, mmap. IOX2_E_SERVICE_EXISTS when the file
 * exists (errmsg says so); IOX2_E_OS else. */
int iox2i_seg_create(iox2_node *n, const char *name, size_t size, iox2i_segment *out);
/* iox2i_seg_open_ready: opens name and waits up to timeout_ns (backoff
 * 50 us doubling to 10 ms) for it to be published, then checks magic,
 * version, kind and size. IOX2_E_SERVICE_NOT_EXIST (missing),
 * IOX2_E_TIMEOUT (not published in time), IOX2_E_VERSION_MISMATCH,
 * IOX2_E_SERVICE_CORRUPTED (bad magic/size/kind, not a regular file). */
int iox2i_seg_open_ready(iox2_node *n, const char *name, uint32_t kind, bool writable,
                         int64_t timeout_ns, iox2i_segment *out);
/* iox2i_seg_init writes kind, size, pid and time (not the ready word). */
void iox2i_seg_init(iox2i_segment *s, uint32_t kind);
/* iox2i_seg_publish: init, then stores the ready word last (SYNC POINT
 * ready, seq_cst). */
void iox2i_seg_publish(iox2i_segment *s, uint32_t kind);
void iox2i_seg_close(iox2i_segment *s); /* munmap; idempotent */
/* iox2i_seg_remove unlinks name; a missing file is IOX2_OK. */
int iox2i_seg_remove(iox2_node *n, const char *name);
static inline iox2i_shm_header *iox2i_seg_header(const iox2i_segment *s) {
	return (iox2i_shm_header *)s->base;
}

/* ---------------------------------------------------------------------------
 * JSON (json.c): a bounded, strict parser into a tree, and writing.
 */
typedef enum { IOX2I_JNULL, IOX2I_JBOOL, IOX2I_JNUM, IOX2I_JSTR, IOX2I_JARR, IOX2I_JOBJ } iox2i_jtype;
typedef struct iox2i_json iox2i_json;
struct iox2i_json {
	iox2i_jtype type;
	bool b;
	char *s;            /* JSTR: the decoded string (NUL-terminated; no NUL inside) */
	size_t slen;
	char *num;          /* JNUM: the literal text */
	char *key;          /* member of an object: its key */
	iox2i_json *child;  /* JARR, JOBJ: first element / member */
	iox2i_json *next;   /* next sibling */
};
#define IOX2I_JSON_MAX_BYTES (1u << 20)
#define IOX2I_JSON_MAX_DEPTH 16
#define IOX2I_JSON_MAX_VALUES 4096
/* iox2i_json_parse parses text (len bytes). On success *out is the root
 * (free with iox2i_json_free) and IOX2_OK; else IOX2_E_SERVICE_CORRUPTED
 * with the reason (and byte offset) in why, or IOX2_E_NO_MEMORY. */
int iox2i_json_parse(const char *text, size_t len, iox2i_json **out, char *why, size_t whycap);
void iox2i_json_free(iox2i_json *j);
const iox2i_json *iox2i_json_get(const iox2i_json *obj, const char *key);
/* Integer of a JNUM: exact, in [min, max]; false otherwise. */
bool iox2i_json_int(const iox2i_json *j, int64_t min, int64_t max, int64_t *out);
bool iox2i_json_uint(const iox2i_json *j, uint64_t *out);
/* Writes s as a JSON string (with Go's escaping of <, >, &). */
void iox2i_json_str(iox2i_buf *b, const char *s);

/* ---------------------------------------------------------------------------
 * Static config (static_config.c): StaticConfig of runtime/static.go.
 */
typedef struct iox2i_typeinfo {
	char *name;
	uint64_t size, align;
	char *layout_hash;
	char *layout;
} iox2i_typeinfo;

typedef struct iox2i_attr {
	char *key, *value;
} iox2i_attr;

typedef struct iox2i_pubsub_static {
	iox2i_typeinfo payload;
	bool slice;                 /* payload_variant "dynamic" */
	bool has_user_header;
	iox2i_typeinfo user_header;
	int64_t max_publishers, max_subscribers, max_nodes, history_size;
	int64_t subscriber_max_buffer_size, subscriber_max_borrowed_samples;
	bool enable_safe_overflow;
} iox2i_pubsub_static;

typedef struct iox2i_event_static {
	int64_t max_notifiers, max_listeners, max_nodes, event_id_max_value;
	int64_t deadline_ns;          /* 0: none */
	int64_t created, dropped, dead; /* -1: none */
} iox2i_event_static;

typedef struct iox2i_reqres_static {
	iox2i_typeinfo request, response;
	bool request_slice, response_slice;
	bool safe_overflow_requests, safe_overflow_responses, fire_and_forget;
	int64_t max_active_requests_per_client, max_loaned_requests, max_response_buffer_size;
	int64_t max_borrowed_responses_per_pending_response, max_servers, max_clients, max_nodes;
} iox2i_reqres_static;

typedef struct iox2i_static {
	char *version, *name, *pattern, *hash, *uid;
	iox2i_attr *attrs;
	size_t nattrs;
	int pattern_id; /* IOX2I_PATTERN_* */
	iox2i_pubsub_static ps;
	iox2i_event_static ev;
	iox2i_reqres_static rr;
} iox2i_static;

const char *iox2i_pattern_name(int pattern);
/* iox2i_check_service checks that a port of pattern may be made on svc by
 * op ("create publisher", ...): not NULL, not closed, of that pattern. */
int iox2i_check_service(iox2_service *svc, int pattern, const char *op);
/* serviceHash: hex of the first 16 bytes of SHA-256("<pattern>\0<name>"). */
void iox2i_service_hash(const char *name, int pattern, char out[33]);
/* iox2i_static_decode decodes the JSON text of a static config file at
 * path, and checks what readStatic checks (hash, pattern, its section).
 * IOX2_E_SERVICE_CORRUPTED with the reason in why (Go's wording). */
int iox2i_static_decode(const char *text, size_t len, const char *path, const char *hash,
                        iox2i_static *out, char *why, size_t whycap);
/* iox2i_static_encode writes sc as Go's json.MarshalIndent does (2 spaces,
 * same field order) plus a newline. */
void iox2i_static_encode(const iox2i_static *sc, iox2i_buf *b);
/* iox2i_version_mismatch writes why a static config of version v is refused
 * (versionMismatch of service.go, the same words). */
void iox2i_version_mismatch(char *d, size_t cap, const char *v);
void iox2i_static_free(iox2i_static *sc);
/* iox2i_static_config_check (for the fuzzer of helper cconf) parses size
 * bytes (not NUL-terminated) as a static config and validates it as opening
 * a service would (pattern from the JSON itself; no hash check, no file
 * system, port memory limit 1 GiB). IOX2_OK or an IOX2_E_* code; errbuf
 * (may be NULL) gets the message. */
int iox2i_static_config_check(const uint8_t *data, size_t size, char *errbuf, size_t errlen);

/* ---------------------------------------------------------------------------
 * Limits (limits.c): QoS ranges and port footprints (runtime/limits.go),
 * with Go's messages. Each returns NULL when fine, else writes the
 * message into buf and returns it.
 */
const char *iox2i_pubsub_validate(const iox2i_pubsub_static *q, int64_t publisher_max_loans, char *buf, size_t cap);
const char *iox2i_event_validate(const iox2i_event_static *q, char *buf, size_t cap);
const char *iox2i_reqres_validate(const iox2i_reqres_static *q, int64_t server_max_loans, char *buf, size_t cap);
const char *iox2i_check_pubsub(const iox2i_pubsub_static *q, int64_t publisher_max_loans, uint64_t limit, char *buf, size_t cap);
const char *iox2i_check_event(const iox2i_event_static *q, uint64_t limit, char *buf, size_t cap);
const char *iox2i_check_reqres(const iox2i_reqres_static *q, int64_t server_max_loans, uint64_t limit, char *buf, size_t cap);
/* time.Duration.String of d (buf: at least 32 bytes); may return a literal. */
const char *iox2i_go_duration(int64_t d, char *buf, size_t cap);
/* A port's own check (publisher, client, server with their settings). */
const char *iox2i_check_publisher(const iox2i_pubsub_static *q, int64_t loans, int64_t slice, uint64_t limit, char *buf, size_t cap);
const char *iox2i_check_client(const iox2i_reqres_static *q, int64_t slice, uint64_t limit, char *buf, size_t cap);
const char *iox2i_check_server(const iox2i_reqres_static *q, int64_t loans_per_request, int64_t slice, uint64_t limit, char *buf, size_t cap);
/* Geometry used by the footprints (segments.go, ring): sizes in bytes,
 * saturating. The data path has its own full layouts; these must agree. */
uint64_t iox2i_data_layout_bytes(uint64_t elem_size, uint64_t elem_align, uint64_t max_len, uint64_t num_chunks,
                                 uint64_t hdr_size, uint64_t hdr_align, uint64_t table_len, uint64_t *stride);
uint64_t iox2i_conn_layout_size(uint32_t channels, uint32_t sub_cap, uint32_t comp_cap);
uint64_t iox2i_queue_memory_size(uint32_t capacity);
uint64_t iox2i_pool_memory_size(uint32_t n);
uint64_t iox2i_bitset_memory_size(uint32_t n);
/* The event segment's layout (event_segment.go). */
void iox2i_event_layout(uint32_t num_ids, size_t *bits_off, size_t *counters_off, size_t *size);

/* ---------------------------------------------------------------------------
 * Services (service.c).
 */

/* A port of a service, as the service sees it: linked into the service's
 * list so that iox2_service_close (and iox2_node_close) can close it.
 * Embed one in every port struct and register it with iox2i_port_add. */
typedef struct iox2i_port iox2i_port;
struct iox2i_port {
	iox2i_port *prev, *next;
	int (*close)(iox2i_port *self); /* closes and frees the port */
};

struct iox2_service {
	struct iox2_service *next;  /* in the node's list */
	iox2_node *node;
	char *name;
	char hash[33];
	iox2i_static sc;            /* the static config, as decoded (QoS, types) */
	int pattern;                /* IOX2I_PATTERN_* */

	iox2i_segment dyn;          /* the dynamic config segment */
	iox2i_dyn_header *hdr;
	iox2i_node_slot *nodes;
	iox2i_port_slot *pubs;      /* publishers, notifiers, clients */
	iox2i_port_slot *subs;      /* subscribers, listeners, servers */
	uint32_t nnodes, npubs, nsubs;
	int slot;                   /* our node slot */
	char *tag;                  /* our service tag in the node's directory */
	iox2i_waitpoint *wp;        /* the node slot's wake word */

	iox2i_port *ports;          /* open ports */
	int64_t publisher_max_loans;      /* pubsub: default of the publishers (2) */
	int64_t server_max_loans;         /* reqres: default of the servers (2) */
	bool closed;
};

/* Registers / unregisters a port of s. */
void iox2i_port_add(iox2_service *s, iox2i_port *p);
void iox2i_port_remove(iox2_service *s, iox2i_port *p);

/* Port slots (dynamic.go). */
int iox2i_slot_claim(iox2i_port_slot *slots, uint32_t n, uint64_t id, uint64_t node);
void iox2i_slot_activate(iox2i_port_slot *s);
void iox2i_slot_release(iox2i_port_slot *s, uint64_t node);
typedef struct iox2i_port_info {
	uint64_t id, node, a, b, c;
} iox2i_port_info;
/* snapshot: false when not active (free, draining) or changed while read. */
bool iox2i_slot_snapshot(iox2i_port_slot *s, iox2i_port_info *pi);
/* snapshot as a receiver: active or draining (then *draining). */
bool iox2i_slot_snapshot_receivable(iox2i_port_slot *s, iox2i_port_info *pi, bool *draining);

/* bump: changes++ (seq_cst), then claims and rings every armed node slot. */
void iox2i_dyn_bump(iox2_service *s);
/* The hot-path check: one atomic load of changes. */
static inline uint32_t iox2i_dyn_changes(const iox2_service *s) {
	return atomic_load_explicit(&s->hdr->changes, memory_order_seq_cst); /* SYNC POINT changes */
}
/* Arms the service's node slot (SYNC POINT node-arm): the next bump rings
 * this node. A waiter that must learn of port changes (a new connection, a
 * vanished server) passes s->wp to iox2i_block, which arms it. */
void iox2i_service_arm(iox2_service *s);

#endif /* IOX2GO_INTERNAL_H */
