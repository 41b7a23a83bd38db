/* node.c: configuration, nodes (lock, details.json, directory, doorbell),
 * the port journal, IDs and time, and the waiting model of
 * runtime/bell.go without a dispatcher: a waiter arms its word(s), re-checks
 * and polls the node's doorbell itself. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* --- IDs and time ---------------------------------------------------------- */

uint64_t iox2i_new_id(void) {
	for (;;) {
		uint64_t v = 0;
		ssize_t r = getrandom(&v, sizeof v, 0);
		if (r == (ssize_t)sizeof v && v != 0)
			return v;
		if (r < 0 && errno != EINTR) {
			/* No getrandom (seccomp, old kernel): /dev/urandom. */
			int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				r = read(fd, &v, sizeof v);
				close(fd);
				if (r == (ssize_t)sizeof v && v != 0)
					return v;
			}
			abort(); /* as Go's newID: no randomness, no unique IDs */
		}
	}
}

_Static_assert(IOX2P_ID_HEX_DIGITS == 16, "IDs are printed as %016llx");

void iox2i_id_str(uint64_t id, char out[17]) { snprintf(out, 17, "%016llx", (unsigned long long)id); }

bool iox2i_parse_id(const char *s, uint64_t *out) {
	uint64_t v = 0;
	if (strlen(s) != 16)
		return false;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (h < 0)
			return false;
		v = v << 4 | (uint64_t)h;
	}
	*out = v;
	return true;
}

int64_t iox2i_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t iox2i_wall_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t iox2i_deadline(int64_t timeout_ns) {
	if (timeout_ns < 0)
		return -1;
	if (timeout_ns == 0)
		return 0;
	int64_t now = iox2i_now();
	return timeout_ns > INT64_MAX - now ? -1 : now + timeout_ns;
}

uint64_t iox2i_sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

uint64_t iox2i_sat_mul(uint64_t a, uint64_t b) {
	uint64_t r;
	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* --- Configuration --------------------------------------------------------- */

void iox2_config_default(iox2_config *cfg) {
	if (!cfg)
		return;
	cfg->root = "/tmp/iox2go";
	cfg->shm_dir = "/dev/shm";
	cfg->prefix = "iox2go_";
	cfg->file_mode = 0600;
	cfg->creation_timeout_ns = 500000000;
	cfg->port_memory_limit = 1u << 30;
}

/* validate_config: Config.Validate's checks and messages. */
static bool validate_config(const iox2_config *c, char *why, size_t cap) {
	char q[512];
	if (!c->root || c->root[0] != '/') {
		iox2i_go_quote(q, sizeof q, c->root ? c->root : "");
		snprintf(why, cap, "iox2: config: root %s must be an absolute path", q);
		return false;
	}
	if (!c->shm_dir || c->shm_dir[0] != '/') {
		iox2i_go_quote(q, sizeof q, c->shm_dir ? c->shm_dir : "");
		snprintf(why, cap, "iox2: config: shm directory %s must be an absolute path", q);
		return false;
	}
	if (!c->prefix || c->prefix[0] == 0) {
		snprintf(why, cap, "iox2: config: prefix must not be empty: it starts the name of every file of the domain");
		return false;
	}
	iox2i_go_quote(q, sizeof q, c->prefix);
	for (const char *p = c->prefix; *p; p++) {
		char ch = *p;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
		      ch == '.')) {
			snprintf(why, cap, "iox2: config: prefix %s may only contain letters, digits, '_', '-' and '.'", q);
			return false;
		}
	}
	if (strlen(c->prefix) > 64) {
		snprintf(why, cap, "iox2: config: prefix %s is longer than 64 bytes", q);
		return false;
	}
	if ((c->file_mode & ~0777u) != 0 || (c->file_mode & 0600) != 0600) {
		snprintf(why, cap, "iox2: config: file mode %#o must include owner read and write and hold only permission bits",
		         c->file_mode);
		return false;
	}
	if (c->file_mode & 07) {
		snprintf(why, cap,
		         "iox2: config: file mode %#o gives permissions to every user (world bits %#o): use 0600, or 0660 to share with a group",
		         c->file_mode, c->file_mode & 07);
		return false;
	}
	if (c->creation_timeout_ns < 1000000) {
		snprintf(why, cap, "iox2: config: creation timeout is %lldns, must be at least 1ms", (long long)c->creation_timeout_ns);
		return false;
	}
	if (c->port_memory_limit < (1u << 20)) {
		snprintf(why, cap, "iox2: config: port memory limit is %llu bytes, must be at least 1048576 (1 MiB)",
		         (unsigned long long)c->port_memory_limit);
		return false;
	}
	return true;
}

/* --- Paths and names -------------------------------------------------------- */

char *iox2i_data_name(const iox2_node *n, uint64_t port, char *buf, size_t cap) {
	snprintf(buf, cap, "%s%016llx" IOX2P_SUFFIX_DATA, n->cfg.prefix, (unsigned long long)port);
	return buf;
}

char *iox2i_conn_name(const iox2_node *n, uint64_t from, uint64_t to, char *buf, size_t cap) {
	snprintf(buf, cap, "%s%016llx_%016llx" IOX2P_SUFFIX_CONNECTION, n->cfg.prefix, (unsigned long long)from, (unsigned long long)to);
	return buf;
}

char *iox2i_event_name(const iox2_node *n, uint64_t port, char *buf, size_t cap) {
	snprintf(buf, cap, "%s%016llx" IOX2P_SUFFIX_EVENT, n->cfg.prefix, (unsigned long long)port);
	return buf;
}

char *iox2i_dynamic_name(const iox2_node *n, const char *hash, const char *uid, char *buf, size_t cap) {
	snprintf(buf, cap, "%s%s_%s" IOX2P_SUFFIX_DYNAMIC, n->cfg.prefix, hash, uid);
	return buf;
}

char *iox2i_static_path(const iox2_node *n, const char *hash, char *buf, size_t cap) {
	snprintf(buf, cap, "%s/" IOX2P_SERVICES_DIR "/%s%s" IOX2P_SUFFIX_SERVICE, n->cfg.root, n->cfg.prefix, hash);
	return buf;
}

char *iox2i_node_dir_of(const iox2_node *n, uint64_t id, char *buf, size_t cap) {
	snprintf(buf, cap, "%s/" IOX2P_NODES_DIR "/%s%016llx", n->cfg.root, n->cfg.prefix, (unsigned long long)id);
	return buf;
}

/* --- Files ------------------------------------------------------------------ */

int iox2i_write_file(iox2_node *n, const char *path, const char *content, size_t len, bool excl) {
	mode_t mode = (mode_t)(n->cfg.file_mode & 0777);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (excl ? O_EXCL : O_TRUNC), mode);
	if (fd < 0)
		return iox2i_os_err(n, errno, "open", path);
	fchmod(fd, mode);
	size_t off = 0;
	int err = 0;
	while (off < len) {
		ssize_t w = write(fd, content + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0 && !err)
		err = errno;
	if (err) {
		unlink(path);
		return iox2i_os_err(n, err, "write", path);
	}
	return IOX2_OK;
}

/* dir_mode gives directories the search bits that go with the file mode. */
static mode_t dir_mode(unsigned file) {
	mode_t m = file & 0777;
	if (m & 0400)
		m |= 0100;
	if (m & 0040)
		m |= 0010;
	if (m & 0004)
		m |= 0001;
	return m | 0700;
}

/* mkdir_all creates dir and its parents (0755), as os.MkdirAll. */
static int mkdir_all(const char *dir) {
	char tmp[4096];
	size_t l = strlen(dir);
	if (l == 0 || l >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, dir, l + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(tmp, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* ensure_dir: as node.go's ensureDir. */
static int ensure_dir(const char *dir, unsigned mode) {
	struct stat st;
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
		return 0;
	}
	if (mkdir_all(dir) < 0)
		return -1;
	if ((mode & 060) == 060)
		chmod(dir, dir_mode(mode) | S_ISGID);
	return 0;
}

/* remove_all removes path and, if it is a directory, what it holds (as
 * os.RemoveAll; bounded depth). */
static int remove_all(const char *path, int depth) {
	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if (depth > 8)
		return -1;
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	struct dirent *e;
	char sub[4096];
	int rc = 0;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		int w = snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		if (w < 0 || (size_t)w >= sizeof sub || remove_all(sub, depth + 1) < 0)
			rc = -1;
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

/* --- The journal ------------------------------------------------------------- */

int iox2i_journal_port(iox2_node *n, uint64_t port, const char *kind) {
	char path[4096];
	snprintf(path, sizeof path, "%s/%016llx.%s" IOX2P_SUFFIX_PORT_ENTRY, n->dir, (unsigned long long)port, kind);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)(n->cfg.file_mode & 0777));
	if (fd < 0)
		return iox2i_os_err(n, errno, "record the port in its node's directory: open", path);
	close(fd);
	return IOX2_OK;
}

void iox2i_forget_port(iox2_node *n, uint64_t port, const char *kind) {
	char path[4096];
	snprintf(path, sizeof path, "%s/%016llx.%s" IOX2P_SUFFIX_PORT_ENTRY, n->dir, (unsigned long long)port, kind);
	unlink(path);
}

/* --- The liveness lock (shm/lock.go) ----------------------------------------- */

static bool same_file(int fd, const char *path) {
	struct stat a, b;
	if (fstat(fd, &a) < 0 || lstat(path, &b) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* flock_retry: LOCK_EX|LOCK_NB, retried for about a millisecond (a probe
 * holds a shared lock for an instant). */
static int flock_retry(int fd) {
	long d = 50000;
	for (int i = 0;; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || i == 4)
			return -1;
		struct timespec ts = {0, d};
		nanosleep(&ts, NULL);
		d *= 2;
	}
}

/* create_lock: CreateLock of shm/lock.go: an O_TMPFILE locked and then
 * linked as path (path never exists unlocked); else create and lock. */
static int create_lock(const char *path, mode_t mode, char *why, size_t cap) {
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (fd >= 0) {
		char proc[64];
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		if (fchmod(fd, mode) == 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
		    linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
			return fd;
		int e = errno;
		close(fd);
		if (e != ENOENT) {
			snprintf(why, cap, "lock %s: %s", path, strerror(e));
			errno = e;
			return -1;
		}
	} else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		snprintf(why, cap, "lock %s: %s", path, strerror(errno));
		return -1;
	}
	/* Fallback: create, then lock. */
	for (;;) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd < 0) {
			snprintf(why, cap, "lock %s: %s", path, strerror(errno));
			return -1;
		}
		if (flock_retry(fd) < 0) {
			int e = errno;
			close(fd);
			snprintf(why, cap, "lock %s: %s", path, e == EWOULDBLOCK ? "shm: locked by another owner" : strerror(e));
			return -1;
		}
		if (!same_file(fd, path)) {
			close(fd);
			continue;
		}
		fchmod(fd, mode);
		return fd;
	}
}

/* --- Nodes ------------------------------------------------------------------- */

static char *xstrdup(const char *s) {
	size_t l = strlen(s) + 1;
	char *d = malloc(l);
	if (d)
		memcpy(d, s, l);
	return d;
}

/* validate_ascii: servicename.go's validateASCII; NULL when fine. */
static const char *validate_ascii(const char *s, size_t max, bool empty_ok, char *buf, size_t cap) {
	size_t l = strlen(s);
	if (l == 0 && !empty_ok)
		return "must not be empty";
	if (l > max) {
		snprintf(buf, cap, "is %zu bytes long, the maximum is %zu", l, max);
		return buf;
	}
	for (size_t i = 0; i < l; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c > 127) {
			snprintf(buf, cap, "byte %zu is 0x%02x; only ASCII 1..127 is allowed", i, c);
			return buf;
		}
	}
	return NULL;
}

/* RFC 3339 with nanoseconds, trailing zeros trimmed (Go's time.RFC3339Nano, UTC). */
static void rfc3339nano(int64_t ns, char *buf, size_t cap) {
	time_t sec = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac) {
		char f[16];
		snprintf(f, sizeof f, ".%09ld", frac);
		size_t fl = strlen(f);
		while (f[fl - 1] == '0')
			f[--fl] = 0;
		n += (size_t)snprintf(buf + n, cap - n, "%s", f);
	}
	snprintf(buf + n, cap - n, "Z");
}

static int write_details(iox2_node *n) {
	char exe[4096] = "";
	ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[l > 0 ? l : 0] = 0;
	char ns[256] = "";
	l = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
	ns[l > 0 ? l : 0] = 0;
	char created[64];
	rfc3339nano(iox2i_wall_now(), created, sizeof created);
	iox2i_buf b = {0};
	iox2i_buf_puts(&b, "{\n  \"name\": ");
	iox2i_json_str(&b, n->name);
	iox2i_buf_puts(&b, ",\n  \"id\": ");
	iox2i_json_str(&b, n->id_str);
	iox2i_buf_printf(&b, ",\n  \"pid\": %d", (int)getpid());
	if (ns[0]) {
		iox2i_buf_puts(&b, ",\n  \"pid_namespace\": ");
		iox2i_json_str(&b, ns);
	}
	iox2i_buf_puts(&b, ",\n  \"executable\": ");
	iox2i_json_str(&b, exe);
	iox2i_buf_puts(&b, ",\n  \"created\": ");
	iox2i_json_str(&b, created);
	iox2i_buf_puts(&b, ",\n  \"version\": ");
	iox2i_json_str(&b, IOX2I_STATIC_VERSION);
	iox2i_buf_puts(&b, "\n}\n");
	if (b.oom) {
		iox2i_buf_free(&b);
		return iox2i_err(n, IOX2_E_NO_MEMORY, "details.json");
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/" IOX2P_NODE_DETAILS_NAME, n->dir);
	int rc = iox2i_write_file(n, path, b.p, b.len, false);
	iox2i_buf_free(&b);
	return rc;
}

/* remove_files: the node's directory, then its lock file (the reverse of
 * creation), then the lock. */
static void remove_files(iox2_node *n) {
	if (n->bell_fd >= 0) {
		close(n->bell_fd);
		n->bell_fd = -1;
	}
	if (n->dir)
		remove_all(n->dir, 0);
	if (n->lock_fd >= 0) {
		unlink(n->lock_path);
		flock(n->lock_fd, LOCK_UN);
		close(n->lock_fd);
		n->lock_fd = -1;
	}
}

static void free_node(iox2_node *n) {
	for (int i = 0; i < IOX2I_PEER_BELLS; i++)
		if (n->peers[i].id)
			close(n->peers[i].fd);
	for (uint32_t i = 0; i < n->nwps; i++)
		free(n->wps[i]);
	free(n->wps);
	free(n->gens);
	free(n->free_idx);
	free(n->name);
	free(n->cfg.root);
	free(n->cfg.shm_dir);
	free(n->cfg.prefix);
	free(n->dir);
	free(n->lock_path);
	free(n);
}

static int create_fail(iox2_node *n, int code, const char *what) {
	iox2i_set_create_error("%s", what);
	if (n) {
		remove_files(n);
		free_node(n);
	}
	return code;
}

int iox2_node_create(const iox2_config *cfg_in, const char *name, iox2_node **out) {
	char why[IOX2I_ERRMSG_CAP], buf[256];
	iox2i_set_create_error("%s", "");
	if (!out)
		return create_fail(NULL, IOX2_E_INVALID_ARGUMENT, "iox2: invalid argument: out is NULL");
	*out = NULL;
	if (!name)
		name = "";
	const char *bad = validate_ascii(name, IOX2I_MAX_NODE_NAME, true, buf, sizeof buf);
	if (bad) {
		char q[IOX2I_MAX_NODE_NAME * 4 + 8];
		iox2i_go_quote(q, sizeof q, name);
		snprintf(why, sizeof why, "%s %s: %s", iox2_errstr(IOX2_E_INVALID_NODE_NAME), q, bad);
		return create_fail(NULL, IOX2_E_INVALID_NODE_NAME, why);
	}
	iox2_config cfg;
	iox2_config_default(&cfg);
	if (cfg_in) {
		/* Zero / NULL fields take the defaults. */
		if (cfg_in->root)
			cfg.root = cfg_in->root;
		if (cfg_in->shm_dir)
			cfg.shm_dir = cfg_in->shm_dir;
		if (cfg_in->prefix)
			cfg.prefix = cfg_in->prefix;
		if (cfg_in->file_mode)
			cfg.file_mode = cfg_in->file_mode;
		if (cfg_in->creation_timeout_ns)
			cfg.creation_timeout_ns = cfg_in->creation_timeout_ns;
		if (cfg_in->port_memory_limit)
			cfg.port_memory_limit = cfg_in->port_memory_limit;
	}
	if (!validate_config(&cfg, why, sizeof why))
		return create_fail(NULL, IOX2_E_INVALID_ARGUMENT, why);

	iox2_node *n = calloc(1, sizeof *n);
	if (!n)
		return create_fail(NULL, IOX2_E_NO_MEMORY, "iox2: create node: out of memory");
	n->lock_fd = -1;
	n->bell_fd = -1;
	n->id = iox2i_new_id();
	iox2i_id_str(n->id, n->id_str);
	n->name = xstrdup(name);
	n->cfg.root = xstrdup(cfg.root);
	n->cfg.shm_dir = xstrdup(cfg.shm_dir);
	n->cfg.prefix = xstrdup(cfg.prefix);
	n->cfg.file_mode = cfg.file_mode;
	n->cfg.creation_timeout_ns = cfg.creation_timeout_ns;
	n->cfg.port_memory_limit = cfg.port_memory_limit;
	char path[4096];
	snprintf(path, sizeof path, "%s/" IOX2P_NODES_DIR "/%s%s", cfg.root, cfg.prefix, n->id_str);
	n->dir = xstrdup(path);
	snprintf(path, sizeof path, "%s/" IOX2P_NODES_DIR "/%s%s" IOX2P_SUFFIX_LOCK, cfg.root, cfg.prefix, n->id_str);
	n->lock_path = xstrdup(path);
	if (!n->name || !n->cfg.root || !n->cfg.shm_dir || !n->cfg.prefix || !n->dir || !n->lock_path)
		return create_fail(n, IOX2_E_NO_MEMORY, "iox2: create node: out of memory");

	const char *dirs[4][2] = {{"Root", cfg.root}, {"Root", NULL}, {"Root", NULL}, {"ShmDir", cfg.shm_dir}};
	char nodes_dir[4096], services_dir[4096];
	snprintf(nodes_dir, sizeof nodes_dir, "%s/" IOX2P_NODES_DIR, cfg.root);
	snprintf(services_dir, sizeof services_dir, "%s/services", cfg.root);
	dirs[1][1] = nodes_dir;
	dirs[2][1] = services_dir;
	for (int i = 0; i < 4; i++) {
		if (ensure_dir(dirs[i][1], cfg.file_mode) < 0) {
			snprintf(why, sizeof why, "iox2: create node: %s: mkdir %s: %s", dirs[i][0], dirs[i][1], strerror(errno));
			return create_fail(n, errno == EACCES || errno == EPERM ? IOX2_E_PERMISSION : IOX2_E_OS, why);
		}
	}
	/* The lock is taken under a temporary name and then renamed, so that
	 * nobody ever sees the lock file of a live node unlocked. */
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", n->lock_path);
	char lwhy[4400];
	int fd = create_lock(tmp, (mode_t)(cfg.file_mode & 0777), lwhy, sizeof lwhy);
	if (fd < 0) {
		snprintf(why, sizeof why, "iox2: create node: %s", lwhy);
		return create_fail(n, errno == EACCES || errno == EPERM ? IOX2_E_PERMISSION : IOX2_E_OS, why);
	}
	if (rename(tmp, n->lock_path) < 0) {
		int e = errno;
		unlink(tmp);
		close(fd);
		snprintf(why, sizeof why, "iox2: create node: rename %s %s: %s", tmp, n->lock_path, strerror(e));
		return create_fail(n, IOX2_E_OS, why);
	}
	n->lock_fd = fd;
	if (mkdir(n->dir, 0700) < 0) {
		snprintf(why, sizeof why, "iox2: create node: mkdir %s: %s", n->dir, strerror(errno));
		return create_fail(n, IOX2_E_OS, why);
	}
	chmod(n->dir, dir_mode(cfg.file_mode));
	if (write_details(n) != IOX2_OK) {
		snprintf(why, sizeof why, "iox2: create node: %s", n->errmsg);
		return create_fail(n, IOX2_E_OS, why);
	}
	/* The doorbell exists before any service slot names the node. */
	snprintf(path, sizeof path, "%s/" IOX2P_BELL_NAME, n->dir);
	if (mkfifo(path, (mode_t)(cfg.file_mode & 0777)) < 0) {
		snprintf(why, sizeof why, "iox2: create node: doorbell: mkfifo %s: %s", path, strerror(errno));
		return create_fail(n, IOX2_E_OS, why);
	}
	chmod(path, (mode_t)(cfg.file_mode & 0777));
	n->bell_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->bell_fd < 0) {
		snprintf(why, sizeof why, "iox2: create node: doorbell: open %s: %s", path, strerror(errno));
		return create_fail(n, IOX2_E_OS, why);
	}
	fcntl(n->bell_fd, F_SETPIPE_SZ, 1 << 20); /* best effort */
	*out = n;
	return IOX2_OK;
}

uint64_t iox2_node_id(const iox2_node *node) { return node ? node->id : 0; }

int iox2_node_fd(const iox2_node *node) {
	if (!node)
		return -1;
	((iox2_node *)node)->fd_mode = true;
	return node->bell_fd;
}

int iox2_node_close(iox2_node *node) {
	if (!node)
		return IOX2_OK;
	int rc = IOX2_OK;
	while (node->services) {
		int r = iox2_service_close(node->services);
		if (r != IOX2_OK && rc == IOX2_OK)
			rc = r;
	}
	remove_files(node);
	free_node(node);
	return rc;
}

/* --- Waitpoints --------------------------------------------------------------- */

iox2i_waitpoint *iox2i_wp_new(iox2_node *n, _Atomic uint64_t *w) {
	iox2i_waitpoint *wp = calloc(1, sizeof *wp);
	if (!wp) {
		iox2i_err(n, IOX2_E_NO_MEMORY, "waitpoint");
		return NULL;
	}
	uint32_t idx;
	if (n->nfree > 0) {
		idx = n->free_idx[--n->nfree];
	} else {
		if (n->nwps == n->capwps) {
			uint32_t c = n->capwps ? n->capwps * 2 : 16;
			iox2i_waitpoint **wps = realloc(n->wps, c * sizeof *wps);
			if (wps)
				n->wps = wps;
			uint32_t *gens = realloc(n->gens, c * sizeof *gens);
			if (gens)
				n->gens = gens;
			uint32_t *fr = realloc(n->free_idx, c * sizeof *fr);
			if (fr)
				n->free_idx = fr;
			if (!wps || !gens || !fr) {
				free(wp);
				iox2i_err(n, IOX2_E_NO_MEMORY, "waitpoint table");
				return NULL;
			}
			n->capwps = c;
		}
		idx = n->nwps++;
		n->gens[idx] = 0;
	}
	n->wps[idx] = wp;
	wp->node = n;
	wp->idx = idx;
	wp->token = (uint64_t)n->gens[idx] << 32 | (uint64_t)(idx + 1);
	wp->w = w;
	return wp;
}

void iox2i_wp_close(iox2i_waitpoint *wp) {
	if (!wp)
		return;
	iox2_node *n = wp->node;
	if (wp->w) {
		uint64_t t = wp->token;
		/* SYNC POINT W-clear: only a token of ours is cleared. */
		atomic_compare_exchange_strong_explicit(wp->w, &t, 0, memory_order_seq_cst, memory_order_seq_cst);
	}
	if (n->wps[wp->idx] == wp) {
		n->wps[wp->idx] = NULL;
		n->gens[wp->idx]++;
		n->free_idx[n->nfree++] = wp->idx;
	}
	free(wp);
}

void iox2i_wp_arm(iox2i_waitpoint *wp) {
	wp->armed = true;
	wp->fired = false;
	if (wp->w)
		/* SYNC POINT W-arm: before the sleeper's re-check of its queues;
		 * paired with the senders' load and Swap (W-claim) after they
		 * published data. */
		atomic_store_explicit(wp->w, wp->token, memory_order_seq_cst);
	/* The re-check that follows may use acquire loads: a full fence makes
	 * the Dekker pairing hold in C11 (fence to fence with the senders'
	 * fence before their load of W), not only on x86. */
	atomic_thread_fence(memory_order_seq_cst);
}

void iox2i_wp_disarm(iox2i_waitpoint *wp) {
	wp->armed = false;
	if (wp->w) {
		uint64_t t = wp->token;
		/* SYNC POINT W-clear: a sender's claim that wins instead costs one
		 * spurious ring. */
		atomic_compare_exchange_strong_explicit(wp->w, &t, 0, memory_order_seq_cst, memory_order_seq_cst);
	}
}

/* --- The doorbell ------------------------------------------------------------- */

#define KICK_TOKEN UINT64_MAX

static void route(iox2_node *n, uint64_t t) {
	if (t == KICK_TOKEN)
		return;
	uint32_t idx = (uint32_t)t - 1, gen = (uint32_t)(t >> 32);
	if (idx < n->nwps && n->gens[idx] == gen && n->wps[idx])
		n->wps[idx]->fired = true;
}

/* drain reads every token in the doorbell; returns how many. */
static int drain(iox2_node *n) {
	uint64_t buf[512];
	int k = 0;
	for (;;) {
		ssize_t r = read(n->bell_fd, buf, sizeof buf);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return k; /* EAGAIN: empty */
		}
		if (r == 0)
			return k;
		/* 8-byte writes are atomic and reads of whole multiples of 8 get
		 * whole tokens; a stray partial write by a hostile peer is dropped. */
		for (ssize_t i = 0; i < r / 8; i++)
			route(n, buf[i]);
		k += (int)(r / 8);
		if ((size_t)r < sizeof buf)
			return k;
	}
}

void iox2i_node_drain(iox2_node *n) {
	if (n->bell_fd >= 0)
		drain(n);
}

int iox2i_node_wait(iox2_node *n, int64_t deadline) {
	if (n->bell_fd < 0)
		return iox2i_err(n, IOX2_E_CLOSED, "the node has no doorbell");
	for (;;) {
		struct timespec ts, *tsp = NULL;
		if (deadline >= 0) {
			int64_t left = deadline == 0 ? 0 : deadline - iox2i_now();
			if (left < 0)
				left = 0;
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			tsp = &ts;
		}
		struct pollfd pfd = {.fd = n->bell_fd, .events = POLLIN};
		int r = ppoll(&pfd, 1, tsp, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return iox2i_os_err(n, errno, "poll", "doorbell");
		}
		if (r > 0 && drain(n) > 0)
			return IOX2_OK;
		if (r == 0 || (deadline >= 0 && iox2i_now() >= deadline))
			return IOX2_E_TIMEOUT;
	}
}

/* write_token: one 8-byte write (atomic in a pipe). SIGPIPE, which a write
 * to a FIFO without reader raises, is blocked in this thread for the call
 * and taken if it became pending: the program's signals stay its own. */
static int write_token(int fd, uint64_t t) {
	sigset_t pipe_set, old, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	bool was_pending = sigismember(&pending, SIGPIPE);
	ssize_t w;
	int err = 0;
	do {
		w = write(fd, &t, sizeof t);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		err = errno;
	if (err == EPIPE && !was_pending) {
		struct timespec zero = {0, 0};
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

bool iox2i_ring(iox2_node *self, uint64_t node_id, uint64_t t) {
	if (node_id == 0 || t == 0)
		return true;
	if (node_id == self->id) {
		if (self->bell_fd < 0)
			return true;
		return write_token(self->bell_fd, t) != EAGAIN;
	}
	iox2i_peer_bell *pb = NULL, *victim = &self->peers[0];
	for (int i = 0; i < IOX2I_PEER_BELLS; i++) {
		iox2i_peer_bell *p = &self->peers[i];
		if (p->id == node_id) {
			pb = p;
			break;
		}
		if (p->id == 0 || (victim->id != 0 && p->used < victim->used))
			victim = p;
	}
	if (!pb) {
		char path[4096];
		iox2i_node_dir_of(self, node_id, path, sizeof path - 8);
		strcat(path, "/" IOX2P_BELL_NAME);
		int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return true; /* gone (ENOENT, ENXIO: nobody reads) */
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
			close(fd); /* not a doorbell: a file planted under the name */
			return true;
		}
		if (victim->id)
			close(victim->fd);
		pb = victim;
		pb->id = node_id;
		pb->fd = fd;
	}
	pb->used = ++self->peer_clock;
	int err = write_token(pb->fd, t);
	if (err == 0)
		return true;
	if (err == EAGAIN)
		return false;
	/* EPIPE (no reader: the node is gone) or worse: forget the doorbell. */
	close(pb->fd);
	pb->id = 0;
	pb->fd = -1;
	return true;
}

void iox2i_claim_and_ring(iox2_node *self, _Atomic uint64_t *w, _Atomic uint64_t *node_word) {
	/* SYNC POINT W-claim: paired with the sleeper's store of its token
	 * (W-arm) before it re-checks its queues. */
	uint64_t t = atomic_exchange_explicit(w, 0, memory_order_seq_cst);
	if (t == 0)
		return; /* another waker claimed it */
	/* SYNC POINT W-slot-node: the port's node, read after the claim. */
	uint64_t id = atomic_load_explicit(node_word, memory_order_seq_cst);
	if (!iox2i_ring(self, id, t)) {
		/* SYNC POINT W-restore: the doorbell is full; the next waker rings. */
		uint64_t zero = 0;
		atomic_compare_exchange_strong_explicit(w, &zero, t, memory_order_seq_cst, memory_order_seq_cst);
	}
}

/* --- Blocking ------------------------------------------------------------------ */

#define SPIN_NS 100000 /* spinFor: 100 us */

int iox2i_block(iox2_node *n, iox2i_waitpoint **wps, int nwps, int64_t timeout_ns,
                int (*try_fn)(void *ctx), void *ctx) {
	int64_t deadline = iox2i_deadline(timeout_ns);
	if (n->fd_mode)
		iox2i_node_drain(n); /* the caller's event loop saw the doorbell readable */
	int r = try_fn(ctx);
	if (r != 0)
		return r > 0 ? IOX2_OK : -r;
	if (deadline == 0) {
		if (!n->fd_mode)
			return IOX2_E_TIMEOUT;
		/* An event loop polls the doorbell (iox2_node_fd): the port stays
		 * armed after a try that found nothing, so that the next sender
		 * rings the doorbell; the re-check closes the race. */
		for (int i = 0; i < nwps; i++)
			if (wps[i])
				iox2i_wp_arm(wps[i]);
		r = try_fn(ctx);
		if (r == 0)
			return IOX2_E_TIMEOUT;
		for (int i = 0; i < nwps; i++)
			if (wps[i])
				iox2i_wp_disarm(wps[i]);
		return r > 0 ? IOX2_OK : -r;
	}
	/* Spin first (see wait.go's spinFor): an answer on its way is taken
	 * without a wake-up through the doorbell. */
	int64_t start = iox2i_now(), spin_end = start + SPIN_NS;
	if (deadline > 0 && deadline < spin_end)
		spin_end = deadline;
	while (iox2i_now() < spin_end) {
		sched_yield();
		if ((r = try_fn(ctx)) != 0)
			return r > 0 ? IOX2_OK : -r;
	}
	for (;;) {
		for (int i = 0; i < nwps; i++)
			if (wps[i])
				iox2i_wp_arm(wps[i]); /* SYNC POINT W-arm: before the re-check below */
		r = try_fn(ctx);
		int rc = IOX2_OK;
		if (r == 0)
			rc = iox2i_node_wait(n, deadline);
		for (int i = 0; i < nwps; i++)
			if (wps[i])
				iox2i_wp_disarm(wps[i]);
		if (r == 0)
			r = try_fn(ctx);
		if (r != 0)
			return r > 0 ? IOX2_OK : -r;
		if (rc != IOX2_OK)
			return rc;
	}
}
