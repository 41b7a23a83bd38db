/* data_unit.c: unit tests of src/data.c and src/receiver.c without a
 * domain: the geometry of data segments, the decoding of offsets, the
 * validation of a hostile data header, and a receiver fed hostile values
 * through a connection laid out in heap memory. Exit status 0 when every
 * check passes. */
#include "data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
			failures++;                                         \
		}                                                           \
	} while (0)

static void *zalloc(size_t n)
{
	void *p = NULL;
	if (posix_memalign(&p, 128, n) != 0)
		exit(2);
	memset(p, 0, n);
	return p;
}

/* The geometry of newDataLayout for a few cases (values computed by hand
 * from runtime/segments.go, and cross-checked with limits.c's copy). */
static void test_layout(void)
{
	iox2d_layout l;
	/* 40-byte element, no header, 1 element, 34 chunks: payload at 48,
	 * stride align(48+40, 64) = 128, pool at 256 of roundUp(256+34*8) =
	 * 640 bytes, chunks at 896. */
	iox2d_layout_new(&l, 40, 8, 1, 34, 0, 0, 0);
	CHECK(l.payload_off == 48 && l.stride == 128 && l.pool_off == 256 && l.chunks_off == 896,
	      "payload_off %llu stride %llu pool %llu chunks %llu", (unsigned long long)l.payload_off,
	      (unsigned long long)l.stride, (unsigned long long)l.pool_off, (unsigned long long)l.chunks_off);
	CHECK(l.bytes == 896 + 34 * 128, "bytes %llu", (unsigned long long)l.bytes);
	uint64_t stride;
	CHECK(iox2i_data_layout_bytes(40, 8, 1, 34, 0, 0, 0, &stride) == l.bytes && stride == l.stride,
	      "limits.c disagrees");
	/* With a 16-byte user header (align 8), 4 elements, a table of 4. */
	iox2d_layout_new(&l, 40, 8, 4, 10, 16, 8, 4);
	CHECK(l.header_off == 48 && l.header_size == 16 && l.payload_off == 64 && l.stride == 256,
	      "header %llu payload %llu stride %llu", (unsigned long long)l.header_off,
	      (unsigned long long)l.payload_off, (unsigned long long)l.stride);
	/* pool: 256 + roundUp(256+80) = 640; table at 640 (32 bytes); chunks at 768. */
	CHECK(l.table_off == 640 && l.table_len == 4 && l.chunks_off == 768, "table %llu chunks %llu",
	      (unsigned long long)l.table_off, (unsigned long long)l.chunks_off);
	CHECK(iox2i_data_layout_bytes(40, 8, 4, 10, 16, 8, 4, &stride) == l.bytes && stride == l.stride,
	      "limits.c disagrees");
	/* Saturation: an absurd slice length saturates instead of wrapping. */
	iox2d_layout_new(&l, 1u << 20, 8, UINT64_MAX / 2, 2, 0, 0, 0);
	CHECK(l.bytes == UINT64_MAX || l.bytes > (1ull << 62), "saturated bytes %llu", (unsigned long long)l.bytes);
}

static void test_decode(void)
{
	uint64_t strides[][2] = {{40, 1}, {100, 1}, {8, 1}, {1000, 3}};
	for (size_t k = 0; k < sizeof strides / sizeof strides[0]; k++) {
		iox2d_layout l;
		iox2d_layout_new(&l, strides[k][0], 8, strides[k][1], 77, 0, 0, 0);
		for (uint32_t i = 0; i < 77; i++) {
			uint32_t got = 9999;
			CHECK(iox2d_decode(&l, iox2d_encode(&l, i), &got) && got == i, "stride %llu index %u -> %u",
			      (unsigned long long)l.stride, i, got);
		}
		uint32_t x;
		CHECK(!iox2d_decode(&l, iox2d_encode(&l, 77), &x), "one past the last chunk");
		CHECK(!iox2d_decode(&l, iox2d_encode(&l, 3) | 1, &x), "segment number bits");
		CHECK(!iox2d_decode(&l, iox2d_encode(&l, 3) + (8 << 8), &x), "inside a chunk");
		CHECK(!iox2d_decode(&l, (l.chunks_off - 8) << 8, &x), "below the chunks");
		CHECK(!iox2d_decode(&l, UINT64_MAX & ~(uint64_t)0xff, &x), "huge");
		CHECK(!iox2d_decode(&l, 0, &x), "zero");
	}
}

static iox2i_segment fake_segment(const iox2d_layout *l)
{
	iox2i_segment s;
	memset(&s, 0, sizeof s);
	s.base = zalloc(l->size);
	s.size = l->size;
	s.writable = true;
	snprintf(s.name, sizeof s.name, "fake.data");
	iox2d_data_header *h = (iox2d_data_header *)((char *)s.base + IOX2I_HEADER_SIZE);
	h->chunk_stride = l->stride;
	h->num_chunks = l->num_chunks;
	h->chunks_offset = l->chunks_off;
	h->payload_off = l->payload_off;
	h->payload_size = l->payload_size;
	h->elem_size = l->elem_size;
	h->pool_offset = l->pool_off;
	h->header_off = l->header_off;
	h->header_size = l->header_size;
	h->table_offset = l->table_off;
	h->table_len = l->table_len;
	return s;
}

static void test_layout_read(void)
{
	iox2d_layout l, got;
	iox2d_layout_new(&l, 40, 8, 4, 10, 16, 8, 4);
	iox2i_segment s = fake_segment(&l);
	iox2d_data_header *h = (iox2d_data_header *)((char *)s.base + IOX2I_HEADER_SIZE);
	iox2d_data_header good = *h;
	CHECK(iox2d_layout_read(NULL, &s, 40, 16, 4, &got) == IOX2_OK && got.max_len == 4 && got.stride == l.stride,
	      "a valid header");
	CHECK(iox2d_layout_read(NULL, &s, 48, 16, 4, &got) == IOX2_E_CONNECTION_CORRUPTED, "element size");
	CHECK(iox2d_layout_read(NULL, &s, 40, 0, 4, &got) == IOX2_E_CONNECTION_CORRUPTED, "header size");
	CHECK(iox2d_layout_read(NULL, &s, 40, 16, 0, &got) == IOX2_E_CONNECTION_CORRUPTED, "table length");
	/* Each hostile change alone. */
#define HOSTILE(what, stmt)                                                                      \
	do {                                                                                     \
		*h = good;                                                                       \
		stmt;                                                                            \
		CHECK(iox2d_layout_read(NULL, &s, 40, 16, 4, &got) == IOX2_E_CONNECTION_CORRUPTED, \
		      "accepted: %s", what);                                                     \
	} while (0)
	HOSTILE("payload_off + payload_size wraps", (h->payload_off = UINT64_MAX - 7, h->payload_size = 64));
	HOSTILE("payload_size wraps past the stride", h->payload_size = UINT64_MAX - 40);
	HOSTILE("payload beyond the stride", h->payload_size = h->chunk_stride);
	HOSTILE("header_off + header_size wraps", (h->header_off = UINT64_MAX - 7));
	HOSTILE("header into the payload", h->header_off = h->payload_off - 8);
	HOSTILE("stride 0", h->chunk_stride = 0);
	HOSTILE("stride not 8-aligned", h->chunk_stride += 4);
	HOSTILE("chunks beyond the segment", h->num_chunks = 11);
	HOSTILE("num_chunks 2^24", h->num_chunks = 1u << 24);
	HOSTILE("num_chunks 0", h->num_chunks = 0);
	HOSTILE("chunks_offset beyond the segment", h->chunks_offset = s.size + 8);
	HOSTILE("chunks_offset huge", h->chunks_offset = UINT64_MAX - 7);
	HOSTILE("payload_off below the chunk header", h->payload_off = 40);
	HOSTILE("payload_off unaligned", h->payload_off = 68);
	HOSTILE("payload smaller than an element", h->payload_size = 39);
	HOSTILE("table after the chunks", h->table_offset = h->chunks_offset + 8);
	HOSTILE("table unaligned", h->table_offset = 644);
	HOSTILE("table overlapping the chunks", h->table_offset = h->chunks_offset - 16);
	*h = good;
	iox2i_segment tiny = s;
	tiny.size = 100;
	CHECK(iox2d_layout_read(NULL, &tiny, 40, 16, 4, &got) == IOX2_E_CONNECTION_CORRUPTED, "tiny segment");
	free(s.base);
}

/* A receiver with one connection laid out in heap memory, fed by hand. */
static void test_receiver_hostile(void)
{
	iox2_service *svc = calloc(1, sizeof *svc);
	svc->hdr = zalloc(sizeof(iox2i_dyn_header));
	atomic_store(&svc->hdr->changes, 5);
	iox2d_layout l;
	iox2d_layout_new(&l, 40, 8, 4, 10, 0, 0, 0);
	iox2i_segment data = fake_segment(&l);
	iox2d_receiver r;
	iox2d_receiver_opts o = {.svc = svc, .id = 1, .peers = NULL, .npeers = 1, .elem_size = 40, .elem_align = 8,
	                         .slice = true, .max_borrowed = 3, .conn_max_borrowed = 3};
	iox2d_conn_layout_new(&o.layout, 1, 4, 8);
	CHECK(iox2d_receiver_init(&r, &o) == IOX2_OK, "init");
	r.seen = 5; /* no port changes: update does nothing */
	iox2d_recv_conn *c = calloc(1, sizeof *c);
	c->peer = 2;
	c->data = data;
	CHECK(iox2d_layout_read(NULL, &data, 40, 0, 0, &c->layout) == IOX2_OK, "layout");
	c->borrowed = calloc(1, sizeof(uint64_t));
	c->conn.seg.base = zalloc(o.layout.size);
	c->conn.seg.size = o.layout.size;
	c->conn.nchannels = 1;
	c->conn.channels = calloc(1, sizeof(iox2r_queue));
	char *cb = c->conn.seg.base;
	iox2r_queue sub_prod, comp_cons;
	CHECK(iox2r_queue_init(&c->conn.channels[0], cb + o.layout.sub_off, o.layout.sub_size, 4) == IOX2R_OK, "sub");
	CHECK(iox2r_queue_init(&c->conn.completion, cb + o.layout.comp_off, o.layout.size - o.layout.comp_off, 8) == IOX2R_OK,
	      "completion");
	CHECK(iox2r_queue_attach(&sub_prod, cb + o.layout.sub_off, o.layout.sub_size, 4) == IOX2R_OK, "attach");
	CHECK(iox2r_queue_attach(&comp_cons, cb + o.layout.comp_off, o.layout.size - o.layout.comp_off, 8) == IOX2R_OK,
	      "attach");
	r.conns[0] = c;
	iox2d_chunk_header *h3 = iox2d_recv_chunk(c, 3), *h4 = iox2d_recv_chunk(c, 4);
	h3->length = 2;
	h4->length = 5; /* more than the segment's 4 elements */

	iox2d_recv_conn *got;
	uint32_t i = 99;
	uint64_t n = 0;
	uint64_t v3 = iox2d_encode(&c->layout, 3);
	CHECK(iox2r_queue_push(&sub_prod, v3 | 1), "push"); /* segment-number bits */
	CHECK(iox2r_queue_push(&sub_prod, v3 + (8 << 8)), "push"); /* inside a chunk */
	CHECK(iox2r_queue_push(&sub_prod, v3), "push");
	CHECK(iox2d_receiver_receive(&r, &got, &i, &n) == IOX2_OK && got == c && i == 3 && n == 2,
	      "the valid chunk after two hostile values: got %p i %u n %llu", (void *)got, i, (unsigned long long)n);
	CHECK(r.dropped == 2, "dropped %llu", (unsigned long long)r.dropped);
	CHECK(iox2r_queue_push(&sub_prod, v3), "push"); /* a chunk we hold */
	CHECK(iox2r_queue_push(&sub_prod, iox2d_encode(&c->layout, 4)), "push"); /* too long a slice */
	CHECK(iox2r_queue_push(&sub_prod, iox2d_encode(&c->layout, 10)), "push"); /* beyond the last chunk */
	CHECK(iox2d_receiver_receive(&r, &got, &i, &n) == IOX2_OK && got == NULL, "nothing valid");
	CHECK(r.dropped == 5, "dropped %llu", (unsigned long long)r.dropped);
	uint64_t v;
	CHECK(iox2r_queue_pop(&comp_cons, &v) && v == iox2d_encode(&c->layout, 4), "the too-long chunk goes back");
	CHECK(!iox2r_queue_pop(&comp_cons, &v), "nothing else goes back");
	iox2d_receiver_release(&r, c, 3);
	CHECK(iox2r_queue_pop(&comp_cons, &v) && v == v3, "release gives chunk 3 back");
	iox2d_receiver_release(&r, c, 3);
	CHECK(!iox2r_queue_pop(&comp_cons, &v), "a second release gives nothing");
	CHECK(r.borrowed == 0, "borrowed %u", r.borrowed);
	/* Close frees c (and unmaps nothing real: seg_close of heap memory
	 * would munmap it, so detach first). */
	free(c->conn.seg.base);
	c->conn.seg.base = NULL;
	free(c->data.base);
	c->data.base = NULL;
	iox2d_receiver_close(&r);
	iox2d_receiver_free(&r);
	free(svc->hdr);
	free(svc);
}

int main(void)
{
	test_layout();
	test_decode();
	test_layout_read();
	test_receiver_hostile();
	if (failures) {
		fprintf(stderr, "FAIL: %d checks failed\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
