/* fuzz_static.c: fuzzes the C library's static-config parser
 * (iox2i_static_config_check: the JSON decoder, every field's checks, the
 * limits), which reads what another process wrote under <root>/services.
 *
 * Two ways to build it:
 *   - with libFuzzer (clang -fsanitize=fuzzer,address,undefined
 *     -DIOX2_LIBFUZZER): LLVMFuzzerTestOneInput is the target;
 *   - without (gcc, the default): main replays inputs, one file each, under
 *     whatever sanitizers the build has. This is how the conformance suite
 *     replays the Go fuzz corpus of runtime's FuzzStaticConfig and its
 *     mutations:
 *
 *       fuzz_static [-expect-ok] <file or directory>...
 *
 *     prints one line per input ("<name> <code>") and, at the end,
 *     "inputs=<n> accepted=<k>". With -expect-ok every input must be
 *     accepted (the static configs that the Go runtime wrote). Exit status
 *     0, or 1 when an input broke a rule below (or -expect-ok).
 *
 * The rules, beyond not crashing (the sanitizers' part): the result is
 * IOX2_OK or a code that iox2_errstr names, a refusal comes with a message,
 * and the same input gives the same result twice.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

/* check runs one input; 0 if it kept the rules, else it prints why. */
static int check(const uint8_t *data, size_t size, int *code, char *msg, size_t msgcap)
{
	/* An exact-size copy, so that a read past the end is an ASan report. */
	uint8_t *copy = malloc(size ? size : 1);
	if (copy == NULL)
		abort();
	if (size)
		memcpy(copy, data, size);
	char err[512], err2[512];
	int rc = iox2i_static_config_check(copy, size, err, sizeof err);
	int rc2 = iox2i_static_config_check(copy, size, err2, sizeof err2);
	free(copy);
	*code = rc;
	snprintf(msg, msgcap, "%s", err);
	if (rc != rc2 || strcmp(err, err2) != 0) {
		fprintf(stderr, "fuzz_static: not deterministic: %d \"%s\", then %d \"%s\"\n", rc, err, rc2, err2);
		return 1;
	}
	if (rc != IOX2_OK && (strstr(iox2_errstr(rc), "unknown") != NULL || err[0] == '\0')) {
		fprintf(stderr, "fuzz_static: code %d (%s) with message \"%s\"\n", rc, iox2_errstr(rc), err);
		return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int code;
	char msg[512];
	if (check(data, size, &code, msg, sizeof msg) != 0)
		abort();
	return 0;
}

#ifndef IOX2_LIBFUZZER
static int expect_ok;
static long inputs, accepted;
static int broken;

static void replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "fuzz_static: %s: cannot open\n", path);
		broken = 1;
		return;
	}
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			uint8_t *b = realloc(buf, cap *= 2);
			if (b == NULL) {
				free(buf);
				buf = NULL;
			}
			buf = b;
		}
	}
	fclose(f);
	if (buf == NULL) {
		fprintf(stderr, "fuzz_static: %s: out of memory\n", path);
		exit(1);
	}
	int code;
	char msg[512];
	if (check(buf, n, &code, msg, sizeof msg) != 0) {
		fprintf(stderr, "fuzz_static: input %s broke a rule\n", path);
		broken = 1;
	}
	free(buf);
	inputs++;
	if (code == IOX2_OK)
		accepted++;
	else if (expect_ok) {
		fprintf(stderr, "fuzz_static: %s refused (%d): %s\n", path, code, msg);
		broken = 1;
	}
	const char *name = strrchr(path, '/');
	printf("%s %d\n", name ? name + 1 : path, code);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void replay(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	DIR *d = opendir(path);
	if (d == NULL) {
		fprintf(stderr, "fuzz_static: %s: cannot open\n", path);
		broken = 1;
		return;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **b = realloc(names, (cap = cap ? 2 * cap : 256) * sizeof *names);
			if (b == NULL)
				exit(1);
			names = b;
		}
		size_t len = strlen(path) + strlen(e->d_name) + 2;
		names[n] = malloc(len);
		if (names[n] == NULL)
			exit(1);
		snprintf(names[n], len, "%s/%s", path, e->d_name);
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n; i++) {
		replay_file(names[i]);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	int i = 1;
	if (i < argc && strcmp(argv[i], "-expect-ok") == 0) {
		expect_ok = 1;
		i++;
	}
	if (i == argc) {
		fprintf(stderr, "usage: fuzz_static [-expect-ok] <file or directory>...\n");
		return 2;
	}
	for (; i < argc; i++)
		replay(argv[i]);
	printf("inputs=%ld accepted=%ld\n", inputs, accepted);
	return broken;
}
#endif
