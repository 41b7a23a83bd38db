/* data.h: the data path of the C library (helper cdata's modules): data
 * segments and connections (data.c, runtime/segments.go), the sending and
 * receiving cores shared by publish-subscribe and request-response
 * (sender.c, receiver.c: runtime/sender.go, runtime/receiver.go).
 *
 * Every structure of shared memory here mirrors a Go struct byte for byte
 * (the _Static_asserts in data.c hold it). Everything else is local to
 * the process; one thread at a time per node (the public contract).
 */
#ifndef IOX2GO_DATA_H
#define IOX2GO_DATA_H

#include "internal.h"
#include "ring.h"

/* ---------------------------------------------------------------------------
 * Shared memory.
 */

/* dataHeader: follows the shm header of a sender's data segment. Written by
 * the sender before it publishes the segment, never changed; receivers
 * copy and validate it once (iox2d_layout_read). */
typedef struct iox2d_data_header {
	uint64_t chunk_stride;  /* bytes from one chunk to the next */
	uint64_t num_chunks;
	uint64_t chunks_offset; /* of chunk 0 from the start of the segment */
	uint64_t payload_off;   /* of the payload within a chunk */
	uint64_t payload_size;  /* payload capacity in bytes */
	uint64_t elem_size;     /* size of one payload element */
	uint64_t pool_offset;   /* of the free list from the start of the segment */
	uint64_t publisher;     /* the sender's port ID */
	uint64_t header_off;    /* of the user header within a chunk (0: none) */
	uint64_t header_size;
	uint64_t table_offset;  /* of a client's request table from the start of the segment */
	uint64_t table_len;     /* entries of the request table; 0 unless a client */
	uint8_t pad_[32];
} iox2d_data_header;

/* ChunkHeader: precedes every payload. Written by the sender before it
 * sends the chunk; receivers only read it. */
typedef struct iox2d_chunk_header {
	uint64_t sequence;   /* per sender, from 0 */
	uint64_t publisher;  /* the sender's port ID */
	uint64_t length;     /* payload elements (1 unless a slice) */
	uint64_t request_id; /* request-response: the client's ID of the request; else 0 */
	uint32_t channel;    /* request-response: the client's request slot */
	uint32_t pad0_;
	uint64_t pad1_;
} iox2d_chunk_header;

/* connHeader: follows the shm header of a connection segment (one sender,
 * one receiver). Written by the sender before it publishes, never
 * changed, except attached. */
typedef struct iox2d_conn_header {
	uint64_t sender;
	uint64_t receiver;
	uint32_t submission_cap;
	uint32_t completion_cap;
	uint32_t channels;
	uint32_t pad0_;
	/* attached: set by the receiver once it has mapped the connection and
	 * the sender's data segment (then the sender may remove both files);
	 * read by the sender when it closes and by the cleaner of a dead
	 * sender. */
	_Atomic uint64_t attached;
	uint8_t pad1_[88];
} iox2d_conn_header;

/* The request table of a client: one word per request slot, in its data
 * segment: id<<2 | active | hint (reqres_client.go). */
#define IOX2D_REQ_ACTIVE 1u
#define IOX2D_REQ_HINT 2u

/* ---------------------------------------------------------------------------
 * Geometry (data.c).
 */

/* The geometry of a data segment (dataLayout). */
typedef struct iox2d_layout {
	uint64_t stride, num_chunks, chunks_off, payload_off, payload_size, elem_size, pool_off;
	uint64_t header_off, header_size;
	uint64_t table_off, table_len;
	uint64_t bytes; /* the size newDataLayout computed, saturated at 2^64-1 */
	size_t size;    /* the mapping's size (valid once bytes passed the limits) */
	/* Derived, local: recip = ceil(2^64/stride) (0 when stride is a power
	 * of two, with stride_shift its log2); max_len = payload_size/elem_size. */
	uint64_t recip;
	unsigned stride_shift;
	uint64_t max_len;
} iox2d_layout;

/* iox2d_layout_new computes the geometry of a data segment (newDataLayout):
 * num_chunks chunks, each a chunk header, then the user header (hdr_size
 * > 0) at its alignment, then room for max_len elements at theirs; a
 * client's request table of table_len words between the free list and the
 * chunks. Sizes saturate: check bytes against the limits before use. */
void iox2d_layout_new(iox2d_layout *l, uint64_t elem_size, uint64_t elem_align, uint64_t max_len,
                      uint64_t num_chunks, uint64_t hdr_size, uint64_t hdr_align, uint64_t table_len);
/* iox2d_layout_read copies and validates the geometry of a mapped data
 * segment (readDataLayout): nothing in it may point outside the mapping.
 * IOX2_E_CONNECTION_CORRUPTED (errmsg set) when it does not. */
int iox2d_layout_read(iox2_node *node, const iox2i_segment *seg, uint64_t want_elem, uint64_t want_header,
                      uint64_t want_table, iox2d_layout *out);
/* encode: chunk index -> the value that travels through the queues (its
 * offset in the data segment, shifted left by 8: segment number 0). */
static inline uint64_t iox2d_encode(const iox2d_layout *l, uint32_t i)
{
	return (l->chunks_off + (uint64_t)i * l->stride) << 8;
}
/* decode validates a value that another process wrote: false unless it is
 * the encoding of a chunk of the layout. */
bool iox2d_decode(const iox2d_layout *l, uint64_t v, uint32_t *i);

static inline void *iox2d_chunk_at(void *base, const iox2d_layout *l, uint32_t i)
{
	return (char *)base + l->chunks_off + (uint64_t)i * l->stride;
}

/* The geometry of a connection segment (connLayout): channels submission
 * queues of sub_cap elements (one for publish-subscribe and requests; one
 * per request slot of the client for responses), then one completion
 * queue of comp_cap, each on its own 128-byte lines. */
typedef struct iox2d_conn_layout {
	uint32_t channels, sub_cap, comp_cap;
	size_t sub_off, sub_size, comp_off, size;
} iox2d_conn_layout;

void iox2d_conn_layout_new(iox2d_conn_layout *l, uint32_t channels, uint32_t sub_cap, uint32_t comp_cap);
bool iox2d_conn_layout_valid(const iox2d_conn_layout *l);

/* A mapped connection segment. */
typedef struct iox2d_conn {
	iox2i_segment seg;
	iox2d_conn_header *hdr;
	uint32_t nchannels;
	iox2r_queue *channels;  /* every submission queue (malloc'ed at connect) */
	iox2r_queue completion; /* receiver -> sender: chunks given back */
} iox2d_conn;

/* iox2d_conn_create creates and publishes connection name (the sender's
 * side). IOX2_E_SERVICE_EXISTS when the file exists. */
int iox2d_conn_create(iox2_node *node, const char *name, uint64_t sender, uint64_t receiver,
                      const iox2d_conn_layout *l, iox2d_conn *out);
/* iox2d_conn_open maps connection name (the receiver's side, writable: it
 * pops and gives back) and validates it against the expected geometry. */
int iox2d_conn_open(iox2_node *node, const char *name, uint64_t sender, uint64_t receiver,
                    const iox2d_conn_layout *l, iox2d_conn *out);
void iox2d_conn_close(iox2d_conn *c);
/* empty: every submission queue is empty; may be stale. */
bool iox2d_conn_empty(const iox2d_conn *c);

/* Backpressure (iox2go.h: IOX2_RETRY_UNTIL_DELIVERED, IOX2_DISCARD_DATA). */

/* ---------------------------------------------------------------------------
 * The sender (sender.c): a data segment with a pool of chunks and a
 * connection to each receiver found in one array of port slots.
 */

/* How a sender connects to one receiver (connSpec). */
typedef struct iox2d_conn_spec {
	iox2d_conn_layout layout;
	uint32_t limit;   /* most chunks in flight on the connection */
	uint32_t history; /* history samples the receiver wants */
} iox2d_conn_spec;

typedef void (*iox2d_conn_for_fn)(void *ctx, const iox2i_port_info *pi, iox2d_conn_spec *out);

typedef struct iox2d_send_conn {
	uint64_t peer;
	iox2d_conn conn;
	char name[256];
	uint64_t *inflight; /* bitset over chunks delivered and not yet given back */
	uint32_t n;         /* chunks in inflight */
	uint32_t limit;
	_Atomic uint64_t *wake; /* the receiver's word W, in its slot */
	_Atomic uint64_t *node; /* the receiver's node, in its slot */
} iox2d_send_conn;

/* A receiver the sender could not connect to, and why. */
typedef struct iox2d_conn_failure {
	uint64_t peer;
	int code;  /* 0: none */
	char *msg; /* the detail, malloc'ed */
} iox2d_conn_failure;

enum { IOX2D_CHUNK_FREE = 0, IOX2D_CHUNK_LOANED = 1, IOX2D_CHUNK_SENT = 2 };

typedef struct iox2d_sender {
	iox2_service *svc;
	uint64_t id;
	const char *op;
	iox2i_port_slot *peers; /* the receivers' slots */
	uint32_t npeers;
	iox2d_conn_for_fn conn_for;
	void *conn_ctx;

	iox2i_segment data;
	bool mapped, removed, journaled;
	iox2d_layout layout;
	iox2r_pool pool;
	_Atomic uint64_t *table; /* a client's request table; NULL otherwise */

	uint32_t *free_stack; /* local free chunks in front of the pool */
	uint32_t nfree;
	uint32_t *refs;  /* per chunk: loan + connections + history (+ pending request) */
	uint8_t *state;  /* per chunk: IOX2D_CHUNK_* */
	uint32_t loans, max_loans;

	uint32_t *history; /* ring of the newest sent chunks, oldest at hhead */
	uint32_t hcap, hhead, hlen;

	iox2d_send_conn **conns; /* by peer slot */
	iox2d_conn_failure *conn_errs;
	uint32_t failing;
	uint32_t seen;
	bool changed;
	uint64_t seq;
	int strategy;
	bool safe_overflow;
	uint64_t max_slice;
	uint64_t overflows, discarded;
	bool closed;
} iox2d_sender;

typedef struct iox2d_sender_opts {
	iox2_service *svc;
	uint64_t id;
	const char *op;
	iox2i_port_slot *peers;
	uint32_t npeers;
	iox2d_conn_for_fn conn_for;
	void *conn_ctx;
	uint64_t elem_size, elem_align, hdr_size, hdr_align;
	uint64_t max_slice, num_chunks, table_len;
	uint32_t max_loans, history;
	bool safe_overflow;
	int strategy;
} iox2d_sender_opts;

/* iox2d_sender_init journals the port and creates and publishes its data
 * segment. The caller has claimed the port's slot and activates it after. */
int iox2d_sender_init(iox2d_sender *p, const iox2d_sender_opts *o);
/* loan takes a free chunk: IOX2_E_EXCEEDS_MAX_LOANS, IOX2_E_OUT_OF_MEMORY. */
int iox2d_sender_loan(iox2d_sender *p, uint32_t *i);
/* unloan gives a loaned chunk back without sending. */
void iox2d_sender_unloan(iox2d_sender *p, uint32_t i);
/* send delivers loaned chunk i to every receiver (the count in
 * *delivered); keeps the loan's reference when keep (a client's request). */
int iox2d_sender_send(iox2d_sender *p, uint32_t i, uint64_t length, uint64_t request_id, uint32_t channel,
                      bool keep, size_t *delivered);
/* send_to delivers loaned chunk i on channel ch of the connection to the
 * receiver in peer slot slot if that is still peer; wanted (may be NULL)
 * ends a RetryUntilDelivered wait when it returns false. Drops the loan. */
int iox2d_sender_send_to(iox2d_sender *p, uint32_t i, uint64_t length, uint64_t request_id, uint32_t channel,
                         int slot, uint64_t peer, bool (*wanted)(void *ctx), void *ctx, bool *delivered);
void iox2d_sender_update(iox2d_sender *p);
void iox2d_sender_reclaim(iox2d_sender *p);
void iox2d_sender_deref(iox2d_sender *p, uint32_t i);
/* in_flight: chunk i is on some connection (after taking back releases). */
bool iox2d_sender_in_flight(iox2d_sender *p, uint32_t i);
/* conn_error sets the errmsg of a failed connection (to slot's receiver,
 * or the first, slot < 0) for op and returns its code; IOX2_OK if none. */
int iox2d_sender_conn_error(iox2d_sender *p, const char *op, int slot);
/* close waits (at most the creation timeout) for receivers with chunks in
 * flight to attach, removes the connections and the data segment, then
 * the journal entry; the caller releases the slot after. Idempotent. */
void iox2d_sender_close(iox2d_sender *p);
/* free releases the local memory (after close). */
void iox2d_sender_free(iox2d_sender *p);
static inline void *iox2d_sender_chunk(const iox2d_sender *p, uint32_t i)
{
	return iox2d_chunk_at(p->data.base, &p->layout, i);
}
static inline void *iox2d_sender_payload(const iox2d_sender *p, uint32_t i)
{
	return (char *)iox2d_sender_chunk(p, i) + p->layout.payload_off;
}
static inline void *iox2d_sender_user_header(const iox2d_sender *p, uint32_t i)
{
	return p->layout.header_size ? (char *)iox2d_sender_chunk(p, i) + p->layout.header_off : NULL;
}

/* ---------------------------------------------------------------------------
 * The receiver (receiver.c): a connection from each sender found in one
 * array of port slots, and a read-only mapping of each sender's data
 * segment.
 */
typedef struct iox2d_recv_conn iox2d_recv_conn;
struct iox2d_recv_conn {
	uint64_t peer;
	uint32_t slot; /* the sender's slot */
	iox2d_conn conn;
	iox2i_segment data;
	iox2d_layout layout;
	_Atomic uint64_t *table; /* the sender's request table (a client's), read-only */
	uint64_t *borrowed;      /* bitset over chunks we hold */
	uint32_t nborrowed;
	bool expired;            /* the sender is gone */
	iox2d_recv_conn *next;   /* in the receiver's list of expired connections */
};

typedef struct iox2d_receiver {
	iox2_service *svc;
	uint64_t id;
	iox2i_port_slot *peers; /* the senders' slots */
	uint32_t npeers;
	uint64_t elem_size, elem_align, hdr_size;
	bool slice;
	iox2d_conn_layout layout; /* of every connection of this receiver */
	uint64_t want_table;
	uint32_t max_borrowed, conn_max_borrowed, borrowed;
	iox2d_recv_conn **conns;  /* by sender slot */
	iox2d_recv_conn *expired; /* of vanished senders, drained first */
	uint32_t seen;
	bool changed;
	uint32_t next;
	uint64_t dropped, stale;
	bool closed;
} iox2d_receiver;

typedef struct iox2d_receiver_opts {
	iox2_service *svc;
	uint64_t id;
	iox2i_port_slot *peers;
	uint32_t npeers;
	uint64_t elem_size, elem_align, hdr_size;
	bool slice;
	iox2d_conn_layout layout;
	uint64_t want_table;
	uint32_t max_borrowed, conn_max_borrowed;
} iox2d_receiver_opts;

int iox2d_receiver_init(iox2d_receiver *r, const iox2d_receiver_opts *o);
void iox2d_receiver_update(iox2d_receiver *r);
/* receive takes the next chunk of channel 0 of any connection: *c NULL when
 * none. IOX2_E_EXCEEDS_MAX_BORROWS at the borrow limit. */
int iox2d_receiver_receive(iox2d_receiver *r, iox2d_recv_conn **c, uint32_t *i, uint64_t *n);
/* receive_on takes the next chunk of request request_id from channel ch
 * (a client's pending response); the caller checks the borrow limits. */
void iox2d_receiver_receive_on(iox2d_receiver *r, uint32_t ch, uint64_t request_id, iox2d_recv_conn **c,
                               uint32_t *i, uint64_t *n);
/* drain_channel gives back, unread, everything queued in channel ch. */
void iox2d_receiver_drain_channel(iox2d_receiver *r, uint32_t ch);
void iox2d_receiver_release(iox2d_receiver *r, iox2d_recv_conn *c, uint32_t i);
/* wake_sender rings c's sender if it sleeps (a client waiting for the end
 * of a response stream). */
void iox2d_receiver_wake_sender(iox2d_receiver *r, iox2d_recv_conn *c);
/* has_data: something is queued in channel ch of some connection. */
bool iox2d_receiver_has_data(iox2d_receiver *r, uint32_t ch);
void iox2d_receiver_sweep_expired(iox2d_receiver *r);
/* close unmaps every connection (held chunks are dropped with them). */
void iox2d_receiver_close(iox2d_receiver *r);
void iox2d_receiver_free(iox2d_receiver *r);
static inline void *iox2d_recv_chunk(const iox2d_recv_conn *c, uint32_t i)
{
	return iox2d_chunk_at(c->data.base, &c->layout, i);
}
static inline bool iox2d_recv_has(const iox2d_recv_conn *c, uint32_t i)
{
	return (c->borrowed[i >> 6] >> (i & 63)) & 1;
}

/* The sender's half of the sleep handshake, after a push that published
 * data: a seq_cst fence unless the push was itself a seq_cst
 * read-modify-write (fenced: iox2r_queue_publish_is_fence; a ring's push
 * ends with a release store, which the load of W must not pass), one load
 * of W, and a claim and ring when it is armed (sender.go's wake). */
void iox2d_wake(iox2_node *self, _Atomic uint64_t *w, _Atomic uint64_t *node, bool fenced);

#endif /* IOX2GO_DATA_H */
