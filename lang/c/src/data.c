/* data.c: data segments and connection segments (runtime/segments.go):
 * their geometry, chunk encoding and its validation, and the creation and
 * opening of connections. */
#include "data.h"

#include <stdlib.h>
#include <string.h>

/* The cross-process layout: a failure here means that a struct no longer
 * matches runtime/segments.go. */
_Static_assert(sizeof(iox2d_data_header) == 128, "dataHeader is 128 bytes");
_Static_assert(offsetof(iox2d_data_header, chunk_stride) == 0, "dataHeader.chunkStride");
_Static_assert(offsetof(iox2d_data_header, num_chunks) == 8, "dataHeader.numChunks");
_Static_assert(offsetof(iox2d_data_header, chunks_offset) == 16, "dataHeader.chunksOffset");
_Static_assert(offsetof(iox2d_data_header, payload_off) == 24, "dataHeader.payloadOff");
_Static_assert(offsetof(iox2d_data_header, payload_size) == 32, "dataHeader.payloadSize");
_Static_assert(offsetof(iox2d_data_header, elem_size) == 40, "dataHeader.elemSize");
_Static_assert(offsetof(iox2d_data_header, pool_offset) == 48, "dataHeader.poolOffset");
_Static_assert(offsetof(iox2d_data_header, publisher) == 56, "dataHeader.publisher");
_Static_assert(offsetof(iox2d_data_header, header_off) == 64, "dataHeader.headerOff");
_Static_assert(offsetof(iox2d_data_header, header_size) == 72, "dataHeader.headerSize");
_Static_assert(offsetof(iox2d_data_header, table_offset) == 80, "dataHeader.tableOffset");
_Static_assert(offsetof(iox2d_data_header, table_len) == 88, "dataHeader.tableLen");
_Static_assert(sizeof(iox2d_chunk_header) == 48, "ChunkHeader is 48 bytes");
_Static_assert(offsetof(iox2d_chunk_header, sequence) == 0, "ChunkHeader.Sequence");
_Static_assert(offsetof(iox2d_chunk_header, publisher) == 8, "ChunkHeader.Publisher");
_Static_assert(offsetof(iox2d_chunk_header, length) == 16, "ChunkHeader.Length");
_Static_assert(offsetof(iox2d_chunk_header, request_id) == 24, "ChunkHeader.RequestID");
_Static_assert(offsetof(iox2d_chunk_header, channel) == 32, "ChunkHeader.channel");
_Static_assert(sizeof(iox2d_conn_header) == 128, "connHeader is 128 bytes");
_Static_assert(offsetof(iox2d_conn_header, sender) == 0, "connHeader.sender");
_Static_assert(offsetof(iox2d_conn_header, receiver) == 8, "connHeader.receiver");
_Static_assert(offsetof(iox2d_conn_header, submission_cap) == 16, "connHeader.submissionCap");
_Static_assert(offsetof(iox2d_conn_header, completion_cap) == 20, "connHeader.completionCap");
_Static_assert(offsetof(iox2d_conn_header, channels) == 24, "connHeader.channels");
_Static_assert(offsetof(iox2d_conn_header, attached) == 32, "connHeader.attached");

/* Against the generated header (runtime/internal/protocol: the Go structs'
 * own numbers; internal.h includes it). */
_Static_assert(sizeof(iox2d_data_header) == IOX2P_DATA_HEADER_SIZE, "dataHeader size");
_Static_assert(offsetof(iox2d_data_header, chunk_stride) == IOX2P_DATA_HEADER_CHUNK_STRIDE_OFFSET, "chunkStride");
_Static_assert(offsetof(iox2d_data_header, num_chunks) == IOX2P_DATA_HEADER_NUM_CHUNKS_OFFSET, "numChunks");
_Static_assert(offsetof(iox2d_data_header, chunks_offset) == IOX2P_DATA_HEADER_CHUNKS_OFFSET_OFFSET, "chunksOffset");
_Static_assert(offsetof(iox2d_data_header, payload_off) == IOX2P_DATA_HEADER_PAYLOAD_OFFSET_OFFSET, "payloadOff");
_Static_assert(offsetof(iox2d_data_header, payload_size) == IOX2P_DATA_HEADER_PAYLOAD_SIZE_OFFSET, "payloadSize");
_Static_assert(offsetof(iox2d_data_header, elem_size) == IOX2P_DATA_HEADER_ELEM_SIZE_OFFSET, "elemSize");
_Static_assert(offsetof(iox2d_data_header, pool_offset) == IOX2P_DATA_HEADER_POOL_OFFSET_OFFSET, "poolOffset");
_Static_assert(offsetof(iox2d_data_header, publisher) == IOX2P_DATA_HEADER_PUBLISHER_OFFSET, "publisher");
_Static_assert(offsetof(iox2d_data_header, header_off) == IOX2P_DATA_HEADER_HEADER_OFFSET_OFFSET, "headerOff");
_Static_assert(offsetof(iox2d_data_header, header_size) == IOX2P_DATA_HEADER_HEADER_SIZE_OFFSET, "headerSize");
_Static_assert(offsetof(iox2d_data_header, table_offset) == IOX2P_DATA_HEADER_TABLE_OFFSET_OFFSET, "tableOffset");
_Static_assert(offsetof(iox2d_data_header, table_len) == IOX2P_DATA_HEADER_TABLE_LEN_OFFSET, "tableLen");
_Static_assert(sizeof(iox2d_chunk_header) == IOX2P_CHUNK_HEADER_SIZE, "ChunkHeader size");
_Static_assert(offsetof(iox2d_chunk_header, sequence) == IOX2P_CHUNK_HEADER_SEQUENCE_OFFSET, "Sequence");
_Static_assert(offsetof(iox2d_chunk_header, publisher) == IOX2P_CHUNK_HEADER_PUBLISHER_OFFSET, "Publisher");
_Static_assert(offsetof(iox2d_chunk_header, length) == IOX2P_CHUNK_HEADER_LENGTH_OFFSET, "Length");
_Static_assert(offsetof(iox2d_chunk_header, request_id) == IOX2P_CHUNK_HEADER_REQUEST_ID_OFFSET, "RequestID");
_Static_assert(offsetof(iox2d_chunk_header, channel) == IOX2P_CHUNK_HEADER_CHANNEL_OFFSET, "channel");
_Static_assert(sizeof(iox2d_conn_header) == IOX2P_CONN_HEADER_SIZE, "connHeader size");
_Static_assert(offsetof(iox2d_conn_header, sender) == IOX2P_CONN_HEADER_SENDER_OFFSET, "sender");
_Static_assert(offsetof(iox2d_conn_header, receiver) == IOX2P_CONN_HEADER_RECEIVER_OFFSET, "receiver");
_Static_assert(offsetof(iox2d_conn_header, submission_cap) == IOX2P_CONN_HEADER_SUBMISSION_CAP_OFFSET, "submissionCap");
_Static_assert(offsetof(iox2d_conn_header, completion_cap) == IOX2P_CONN_HEADER_COMPLETION_CAP_OFFSET, "completionCap");
_Static_assert(offsetof(iox2d_conn_header, channels) == IOX2P_CONN_HEADER_CHANNELS_OFFSET, "channels");
_Static_assert(offsetof(iox2d_conn_header, attached) == IOX2P_CONN_HEADER_ATTACHED_OFFSET, "attached");
_Static_assert(IOX2D_REQ_ACTIVE == IOX2P_REQ_ACTIVE && IOX2D_REQ_HINT == IOX2P_REQ_HINT && IOX2P_REQ_ID_SHIFT == 2,
               "request table words");
_Static_assert(IOX2P_MIN_CHUNK_ALIGN == 64 && IOX2P_CHUNKS_ALIGN == 128 && IOX2P_QUEUE_ALIGN == 128,
               "the alignments of iox2d_layout_new and iox2d_conn_layout_new");
_Static_assert(IOX2P_MAX_CHUNKS == IOX2R_MAX_CAPACITY, "at most ring.MaxCapacity chunks");
_Static_assert(IOX2P_OFFSET_SEGMENT_BITS == 8, "encoded offsets: offset << 8");
_Static_assert(IOX2P_MAX_CHANNELS == 1u << 16, "connLayout.valid");
/* The role views of a port slot that the data path writes and reads. */
_Static_assert(offsetof(iox2i_port_slot, a) == IOX2P_PUBLISHER_SLOT_MAX_SLICE_LEN_OFFSET, "publisher slot");
_Static_assert(offsetof(iox2i_port_slot, a) == IOX2P_SUBSCRIBER_SLOT_BUFFER_SIZE_OFFSET, "subscriber slot buffer");
_Static_assert(offsetof(iox2i_port_slot, b) == IOX2P_SUBSCRIBER_SLOT_HISTORY_REQUEST_OFFSET, "subscriber slot history");
_Static_assert(offsetof(iox2i_port_slot, a) == IOX2P_CLIENT_SLOT_MAX_ACTIVE_REQUESTS_OFFSET, "client slot");
_Static_assert(offsetof(iox2i_port_slot, a) == IOX2P_SERVER_SLOT_MAX_SLICE_LEN_OFFSET, "server slot");
_Static_assert(offsetof(iox2i_port_slot, wake) == IOX2P_PORT_SLOT_WAKE_OFFSET, "port slot W");
_Static_assert(offsetof(iox2i_port_slot, node) == IOX2P_PORT_SLOT_NODE_OFFSET, "port slot node");

#define CHUNK_HEADER_SIZE ((uint64_t)sizeof(iox2d_chunk_header))

static uint64_t max3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t m = a > b ? a : b;
	return m > c ? m : c;
}
static uint64_t max2(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* align_u rounds n up to a multiple of a (a power of two); near 2^64 it
 * saturates at the largest multiple of a. */
static uint64_t align_u(uint64_t n, uint64_t a)
{
	if (n > UINT64_MAX - (a - 1))
		return UINT64_MAX & ~(a - 1);
	return (n + a - 1) & ~(a - 1);
}

static void derive(iox2d_layout *l)
{
	l->recip = 0;
	l->stride_shift = 0;
	if ((l->stride & (l->stride - 1)) == 0)
		l->stride_shift = (unsigned)__builtin_ctzll(l->stride);
	else
		l->recip = UINT64_MAX / l->stride + 1;
	l->max_len = l->elem_size > 0 ? l->payload_size / l->elem_size : 0;
}

void iox2d_layout_new(iox2d_layout *l, uint64_t elem_size, uint64_t elem_align, uint64_t max_len,
                      uint64_t num_chunks, uint64_t hdr_size, uint64_t hdr_align, uint64_t table_len)
{
	memset(l, 0, sizeof *l);
	uint64_t a = max3(elem_align, 8, hdr_size > 0 ? hdr_align : 0);
	l->elem_size = elem_size;
	l->payload_size = iox2i_sat_mul(elem_size, max_len);
	uint64_t end = CHUNK_HEADER_SIZE;
	if (hdr_size > 0) {
		l->header_off = align_u(CHUNK_HEADER_SIZE, max2(hdr_align, 1));
		l->header_size = hdr_size;
		end = iox2i_sat_add(l->header_off, hdr_size);
	}
	l->payload_off = align_u(end, max2(elem_align, 8));
	l->stride = align_u(iox2i_sat_add(l->payload_off, max2(l->payload_size, 1)), max2(a, 64));
	l->num_chunks = num_chunks;
	l->pool_off = IOX2I_HEADER_SIZE + sizeof(iox2d_data_header);
	/* (the pool's size is 0 beyond IOX2R_MAX_CAPACITY chunks, which the
	 * caller refuses) */
	uint32_t pn = num_chunks > IOX2R_MAX_CAPACITY ? IOX2R_MAX_CAPACITY + 1 : (uint32_t)num_chunks;
	end = l->pool_off + iox2r_pool_memory_size(pn);
	if (table_len > 0) {
		/* Its own lines: written by the client on every send. */
		l->table_off = align_u(end, 128);
		l->table_len = table_len;
		end = iox2i_sat_add(l->table_off, iox2i_sat_mul(8, table_len));
	}
	l->chunks_off = align_u(end, max2(a, 128));
	l->bytes = iox2i_sat_add(l->chunks_off, iox2i_sat_mul(l->stride, num_chunks));
	l->size = l->bytes > (uint64_t)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)l->bytes;
	derive(l);
}

int iox2d_layout_read(iox2_node *node, const iox2i_segment *seg, uint64_t want_elem, uint64_t want_header,
                      uint64_t want_table, iox2d_layout *out)
{
	size_t len = seg->size;
	if (len < IOX2I_HEADER_SIZE + sizeof(iox2d_data_header))
		return iox2i_err(node, IOX2_E_CONNECTION_CORRUPTED, "data segment %s is too small", seg->name);
	/* Copied once: later writes of the sender change nothing we use. */
	iox2d_data_header h;
	memcpy(&h, (const char *)seg->base + IOX2I_HEADER_SIZE, sizeof h);
	iox2d_layout l;
	memset(&l, 0, sizeof l);
	l.stride = h.chunk_stride;
	l.num_chunks = h.num_chunks;
	l.chunks_off = h.chunks_offset;
	l.payload_off = h.payload_off;
	l.payload_size = h.payload_size;
	l.elem_size = h.elem_size;
	l.pool_off = h.pool_offset;
	l.header_off = h.header_off;
	l.header_size = h.header_size;
	l.table_off = h.table_offset;
	l.table_len = h.table_len;
	l.size = len;
	/* The checks of readDataLayout, each written so that it cannot
	 * overflow (payload_off + payload_size <= stride as two steps). */
	bool ok = l.elem_size == want_elem && l.header_size == want_header && l.table_len == want_table &&
	          (l.table_len == 0 || (l.table_off % 8 == 0 && l.table_off <= l.chunks_off &&
	                                 (l.chunks_off - l.table_off) / 8 >= l.table_len)) &&
	          (l.header_size == 0 || (l.header_off >= CHUNK_HEADER_SIZE && l.header_off <= l.payload_off &&
	                                  l.header_size <= l.payload_off - l.header_off)) &&
	          l.stride % 8 == 0 && l.stride > 0 && l.num_chunks > 0 && l.num_chunks <= IOX2R_MAX_CAPACITY &&
	          l.payload_off >= CHUNK_HEADER_SIZE && l.payload_off % 8 == 0 && l.payload_off <= l.stride &&
	          l.payload_size <= l.stride - l.payload_off && l.payload_size >= l.elem_size &&
	          l.chunks_off % 8 == 0 && l.chunks_off <= (uint64_t)len &&
	          ((uint64_t)len - l.chunks_off) / l.stride >= l.num_chunks;
	if (!ok)
		return iox2i_err(node, IOX2_E_CONNECTION_CORRUPTED, "data segment %s has an invalid geometry", seg->name);
	if (l.table_len == 0)
		l.table_off = 0; /* no table: whatever the header says is never used */
	derive(&l);
	*out = l;
	return IOX2_OK;
}

bool iox2d_decode(const iox2d_layout *l, uint64_t v, uint32_t *out)
{
	if ((v & 0xff) != 0)
		return false;
	uint64_t off = v >> 8;
	if (off < l->chunks_off)
		return false;
	uint64_t rel = off - l->chunks_off;
	/* The index without a division: a shift, or a multiplication by the
	 * rounded-up reciprocal, exact for every valid value; q*stride == rel
	 * accepts exactly the multiples of stride, anything it refuses is
	 * decided by a division. */
	uint64_t q;
	if (l->recip == 0)
		q = rel >> l->stride_shift;
	else
		q = (uint64_t)(((unsigned __int128)rel * l->recip) >> 64);
	if (q * l->stride != rel) {
		if (rel % l->stride != 0)
			return false;
		q = rel / l->stride;
	}
	if (q >= l->num_chunks)
		return false;
	*out = (uint32_t)q;
	return true;
}

/* ---------------------------------------------------------------------------
 * Connections
 */

static size_t align_z(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

void iox2d_conn_layout_new(iox2d_conn_layout *l, uint32_t channels, uint32_t sub_cap, uint32_t comp_cap)
{
	memset(l, 0, sizeof *l);
	l->channels = channels;
	l->sub_cap = sub_cap;
	l->comp_cap = comp_cap;
	l->sub_off = align_z(IOX2I_HEADER_SIZE + sizeof(iox2d_conn_header), 128);
	l->sub_size = align_z(iox2r_queue_memory_size(sub_cap), 128);
	l->comp_off = l->sub_off + (size_t)channels * l->sub_size;
	l->size = align_z(l->comp_off + iox2r_queue_memory_size(comp_cap), 128);
}

bool iox2d_conn_layout_valid(const iox2d_conn_layout *l)
{
	return l->channels >= 1 && l->channels <= (1u << 16) && l->sub_size > 0 &&
	       iox2r_queue_memory_size(l->comp_cap) > 0;
}

static int attach_queues(iox2d_conn *c, const iox2d_conn_layout *l, bool create)
{
	char *b = c->seg.base;
	c->nchannels = l->channels;
	c->channels = calloc(l->channels, sizeof *c->channels);
	if (!c->channels)
		return IOX2R_E_TOO_SMALL; /* mapped to IOX2_E_NO_MEMORY by the callers */
	for (uint32_t ch = 0; ch < l->channels; ch++) {
		void *m = b + l->sub_off + (size_t)ch * l->sub_size;
		int rc = create ? iox2r_queue_init(&c->channels[ch], m, l->sub_size, l->sub_cap)
		                : iox2r_queue_attach(&c->channels[ch], m, l->sub_size, l->sub_cap);
		if (rc != IOX2R_OK)
			return rc;
	}
	void *m = b + l->comp_off;
	size_t n = c->seg.size - l->comp_off;
	return create ? iox2r_queue_init(&c->completion, m, n, l->comp_cap)
	              : iox2r_queue_attach(&c->completion, m, n, l->comp_cap);
}

void iox2d_conn_close(iox2d_conn *c)
{
	iox2i_seg_close(&c->seg);
	free(c->channels);
	c->channels = NULL;
	c->hdr = NULL;
}

int iox2d_conn_create(iox2_node *node, const char *name, uint64_t sender, uint64_t receiver,
                      const iox2d_conn_layout *l, iox2d_conn *out)
{
	memset(out, 0, sizeof *out);
	if (!iox2d_conn_layout_valid(l))
		return iox2i_err(node, IOX2_E_INVALID_ARGUMENT, "connection %s: invalid geometry", name);
	int rc = iox2i_seg_create(node, name, l->size, &out->seg);
	if (rc != IOX2_OK)
		return rc;
	iox2d_conn_header *h = (iox2d_conn_header *)((char *)out->seg.base + IOX2I_HEADER_SIZE);
	h->sender = sender;
	h->receiver = receiver;
	h->submission_cap = l->sub_cap;
	h->completion_cap = l->comp_cap;
	h->channels = l->channels;
	int r = attach_queues(out, l, true);
	if (r != IOX2R_OK) {
		bool oom = out->channels == NULL;
		iox2d_conn_close(out);
		iox2i_seg_remove(node, name);
		return iox2i_err(node, oom ? IOX2_E_NO_MEMORY : IOX2_E_CONNECTION_CORRUPTED, "connection %s: %s", name,
		                 iox2r_strerror(r));
	}
	out->hdr = h;
	/* SYNC POINT publish: paired with the receiver's open_ready. */
	iox2i_seg_publish(&out->seg, IOX2I_KIND_CONNECTION);
	return IOX2_OK;
}

int iox2d_conn_open(iox2_node *node, const char *name, uint64_t sender, uint64_t receiver,
                    const iox2d_conn_layout *l, iox2d_conn *out)
{
	memset(out, 0, sizeof *out);
	if (!iox2d_conn_layout_valid(l))
		return iox2i_err(node, IOX2_E_INVALID_ARGUMENT, "connection %s: invalid geometry", name);
	int rc = iox2i_seg_open_ready(node, name, IOX2I_KIND_CONNECTION, true, 0, &out->seg);
	if (rc != IOX2_OK)
		return rc;
	if (out->seg.size != l->size) {
		size_t have = out->seg.size;
		iox2d_conn_close(out);
		return iox2i_err(node, IOX2_E_CONNECTION_CORRUPTED, "connection %s has %zu bytes, expected %zu", name,
		                 have, l->size);
	}
	iox2d_conn_header *h = (iox2d_conn_header *)((char *)out->seg.base + IOX2I_HEADER_SIZE);
	if (h->sender != sender || h->receiver != receiver || h->channels != l->channels) {
		iox2d_conn_close(out);
		return iox2i_err(node, IOX2_E_CONNECTION_CORRUPTED, "connection %s joins other ports", name);
	}
	int r = attach_queues(out, l, false);
	if (r != IOX2R_OK) {
		bool oom = out->channels == NULL;
		iox2d_conn_close(out);
		return iox2i_err(node, oom ? IOX2_E_NO_MEMORY : IOX2_E_CONNECTION_CORRUPTED, "connection %s: %s", name,
		                 iox2r_strerror(r));
	}
	out->hdr = h;
	return IOX2_OK;
}

bool iox2d_conn_empty(const iox2d_conn *c)
{
	for (uint32_t ch = 0; ch < c->nchannels; ch++)
		if (!iox2r_queue_is_empty(&c->channels[ch]))
			return false;
	return true;
}

void iox2d_wake(iox2_node *self, _Atomic uint64_t *w, _Atomic uint64_t *node, bool fenced)
{
	/* SYNC POINT W-check: after the push that published the data; paired
	 * with the receiver's W-arm (a seq_cst store and fence) before its
	 * re-check. Either the receiver sees the data or we see its token: a
	 * Dekker handshake. After a ring's push (Q2, a release store) the
	 * fence keeps the load of W from passing it (a store followed by a
	 * load of another word is the one reordering x86 does); after a slot's
	 * (S1, S2: a seq_cst read-modify-write, x86's locked instruction) the
	 * push and the seq_cst load are ordered in C11's single total order
	 * already, as in sender.go's wake, and the fence would be a second
	 * barrier on every send. */
	if (!fenced)
		atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(w, memory_order_seq_cst) != 0)
		iox2i_claim_and_ring(self, w, node);
}
