/* shm.c: segments, as runtime/shm (posix.go, header.go): one file per
 * segment in the domain's ShmDir, mapped MAP_SHARED, with a 128-byte header
 * whose ready word is published last. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int seg_path(const iox2_node *n, const char *name, char *buf, size_t cap) {
	/* shm.ValidateName: a single path element of 1..255 bytes. */
	size_t l = strlen(name);
	if (l == 0 || l > 255 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -1;
	int w = snprintf(buf, cap, "%s/%s", n->cfg.shm_dir, name);
	return w < 0 || (size_t)w >= cap ? -1 : 0;
}

/* reserve: fallocate(KEEP_SIZE) in steps of 64 MiB (a signal makes tmpfs
 * undo a whole call); EOPNOTSUPP/ENOSYS leave the file sparse. */
static int reserve(int fd, uint64_t size) {
	const uint64_t step = 64u << 20;
	for (uint64_t off = 0; off < size;) {
		uint64_t k = size - off < step ? size - off : step;
		if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)k) == 0) {
			off += k;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EOPNOTSUPP || errno == ENOSYS)
			return 0;
		return -1;
	}
	return 0;
}

int iox2i_seg_create(iox2_node *n, const char *name, size_t size, iox2i_segment *out) {
	memset(out, 0, sizeof *out);
	char path[4096];
	if (seg_path(n, name, path, sizeof path) < 0)
		return iox2i_err(n, IOX2_E_INVALID_ARGUMENT, "create %s: shm: invalid name", name);
	if (size == 0)
		return iox2i_err(n, IOX2_E_INVALID_ARGUMENT, "create %s: shm: invalid size", name);
	mode_t mode = (mode_t)(n->cfg.file_mode & 0777);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			return iox2i_err(n, IOX2_E_SERVICE_EXISTS, "create %s: shm: already exists", name);
		return iox2i_os_err(n, errno, "create", path);
	}
	void *p = MAP_FAILED;
	/* The umask narrowed the mode of open: set it exactly. The file stays
	 * empty until it is sized: an opener waits for it (not initialized). */
	if (fchmod(fd, mode) == 0 && reserve(fd, size) == 0 && ftruncate(fd, (off_t)size) == 0)
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		unlink(path);
		if (e == ENOSPC || e == EDQUOT)
			return iox2i_err(n, IOX2_E_OS, "create %s: %s: %s (reserving %zu bytes for the segment)", name,
			                 strerror(e), n->cfg.shm_dir, size);
		return iox2i_os_err(n, e, "create", path);
	}
	close(fd); /* the mapping outlives the descriptor */
	out->base = p;
	out->size = size;
	out->writable = true;
	snprintf(out->name, sizeof out->name, "%s", name);
	return IOX2_OK;
}

/* open_once: 1 opened, 0 not yet initialized (empty file), <0 -code. */
static int open_once(iox2_node *n, const char *name, const char *path, bool writable, iox2i_segment *out) {
	int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return -iox2i_err(n, IOX2_E_SERVICE_NOT_EXIST, "open %s: shm: does not exist", name);
		if (errno == ELOOP)
			return -iox2i_err(n, IOX2_E_SERVICE_CORRUPTED, "open %s: shm: corrupt segment: a symbolic link", name);
		return -iox2i_os_err(n, errno, "open", path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -iox2i_os_err(n, e, "open", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -iox2i_err(n, IOX2_E_SERVICE_CORRUPTED, "open %s: shm: corrupt segment: not a regular file", name);
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	void *p = mmap(NULL, (size_t)st.st_size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return -iox2i_os_err(n, e, "open", path);
	out->base = p;
	out->size = (size_t)st.st_size;
	out->writable = writable;
	snprintf(out->name, sizeof out->name, "%s", name);
	return 1;
}

/* backoff_wait sleeps 50 us doubling to 10 ms, never past deadline; false
 * once the deadline has passed. */
static bool backoff_wait(int64_t *d, int64_t deadline) {
	int64_t left = deadline - iox2i_now();
	if (left <= 0)
		return false;
	int64_t nd = *d * 2;
	if (nd < 50000)
		nd = 50000;
	if (nd > 10000000)
		nd = 10000000;
	*d = nd;
	if (nd > left)
		nd = left;
	struct timespec ts = {.tv_sec = nd / 1000000000, .tv_nsec = nd % 1000000000};
	nanosleep(&ts, NULL);
	return true;
}

int iox2i_seg_open_ready(iox2_node *n, const char *name, uint32_t kind, bool writable,
                         int64_t timeout_ns, iox2i_segment *out) {
	memset(out, 0, sizeof *out);
	char path[4096];
	if (seg_path(n, name, path, sizeof path) < 0)
		return iox2i_err(n, IOX2_E_INVALID_ARGUMENT, "open %s: shm: invalid name", name);
	int64_t deadline = iox2i_now() + (timeout_ns > 0 ? timeout_ns : 0);
	int64_t d = 0;
	for (;;) {
		int r = open_once(n, name, path, writable, out);
		if (r < 0)
			return -r;
		if (r == 1)
			break;
		if (!backoff_wait(&d, deadline))
			return iox2i_err(n, IOX2_E_TIMEOUT,
			                 "open %s: shm: not initialized (its creator may have died while creating it): the segment is still empty",
			                 name);
	}
	if (out->size < IOX2I_HEADER_SIZE) {
		size_t sz = out->size;
		iox2i_seg_close(out);
		return iox2i_err(n, IOX2_E_SERVICE_CORRUPTED, "open %s: shm: corrupt segment: %zu bytes, too small for a header",
		                 name, sz);
	}
	iox2i_shm_header *h = iox2i_seg_header(out);
	/* SYNC POINT ready: paired with the creator's store in publish. */
	uint64_t w;
	while ((w = atomic_load_explicit(&h->ready, memory_order_seq_cst)) == 0) {
		if (!backoff_wait(&d, deadline)) {
			iox2i_seg_close(out);
			return iox2i_err(n, IOX2_E_TIMEOUT,
			                 "open %s: shm: not initialized (its creator may have died while creating it): not published within %lldms",
			                 name, (long long)(timeout_ns > 0 ? timeout_ns / 1000000 : 0));
		}
	}
	uint32_t magic = (uint32_t)(w >> 32), version = (uint32_t)w;
	int code = IOX2_OK;
	if (magic != IOX2I_MAGIC)
		code = iox2i_err(n, IOX2_E_SERVICE_CORRUPTED, "open %s: shm: corrupt segment: bad magic %#08x, want %#08x", name,
		                 magic, IOX2I_MAGIC);
	else if (version != IOX2I_LAYOUT_VERSION)
		code = iox2i_err(n, IOX2_E_VERSION_MISMATCH,
		                 "open %s: shm: layout version mismatch: the segment has layout version %u, this process uses version %u",
		                 name, version, IOX2I_LAYOUT_VERSION);
	else if (h->kind != kind)
		code = iox2i_err(n, IOX2_E_SERVICE_CORRUPTED, "open %s: shm: wrong kind of segment: the segment is of kind %u, want kind %u",
		                 name, h->kind, kind);
	else if (h->size != out->size)
		code = iox2i_err(n, IOX2_E_SERVICE_CORRUPTED, "open %s: shm: corrupt segment: the header says %llu bytes, the mapping has %zu",
		                 name, (unsigned long long)h->size, out->size);
	if (code != IOX2_OK)
		iox2i_seg_close(out);
	return code;
}

void iox2i_seg_init(iox2i_segment *s, uint32_t kind) {
	iox2i_shm_header *h = iox2i_seg_header(s);
	h->kind = kind;
	h->size = s->size;
	if (h->creator_pid == 0) {
		h->creator_pid = (uint64_t)getpid();
		h->created_nanos = iox2i_wall_now();
	}
}

void iox2i_seg_publish(iox2i_segment *s, uint32_t kind) {
	iox2i_seg_init(s, kind);
	/* SYNC POINT ready: publishes the header and the whole payload; paired
	 * with the load in open_ready. */
	atomic_store_explicit(&iox2i_seg_header(s)->ready, (uint64_t)IOX2I_MAGIC << 32 | IOX2I_LAYOUT_VERSION,
	                      memory_order_seq_cst);
}

void iox2i_seg_close(iox2i_segment *s) {
	if (s->base) {
		munmap(s->base, s->size);
		s->base = NULL;
	}
}

int iox2i_seg_remove(iox2_node *n, const char *name) {
	char path[4096];
	if (seg_path(n, name, path, sizeof path) < 0)
		return iox2i_err(n, IOX2_E_INVALID_ARGUMENT, "remove %s: shm: invalid name", name);
	if (unlink(path) < 0 && errno != ENOENT)
		return iox2i_os_err(n, errno, "remove", path);
	return IOX2_OK;
}
