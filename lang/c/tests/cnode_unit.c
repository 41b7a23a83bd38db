/* cnode_unit: unit tests of the internals of node/service (sha256, json,
 * the static config, durations, limits). Prints "PASS" or the failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int fails;

#define CHECK(cond, ...)                                                                                              \
	do {                                                                                                              \
		if (!(cond)) {                                                                                                \
			fails++;                                                                                                  \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                               \
			printf(__VA_ARGS__);                                                                                      \
			printf("\n");                                                                                             \
		}                                                                                                             \
	} while (0)

static void hex(const uint8_t *h, size_t n, char *out) {
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static void test_sha256(void) {
	struct {
		const char *in, *want;
	} v[] = {
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint8_t h[32];
		char s[65];
		iox2i_sha256(v[i].in, strlen(v[i].in), h);
		hex(h, 32, s);
		CHECK(strcmp(s, v[i].want) == 0, "sha256(%s) = %s, want %s", v[i].in, s, v[i].want);
	}
	/* A million 'a' (FIPS 180-2 example). */
	char *m = malloc(1000000);
	memset(m, 'a', 1000000);
	uint8_t h[32];
	char s[65];
	iox2i_sha256(m, 1000000, h);
	hex(h, 32, s);
	free(m);
	CHECK(strcmp(s, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0, "sha256(1e6 a) = %s", s);
}

static void test_json(void) {
	const char *good[] = {"{}", "[]", " {\"a\": [1, -2, 3.5e-1, true, false, null, \"x\\u00e9\\n\\ud83d\\ude00\"]} ", "0", "\"\""};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		iox2i_json *j;
		char why[256];
		int rc = iox2i_json_parse(good[i], strlen(good[i]), &j, why, sizeof why);
		CHECK(rc == IOX2_OK, "parse %s: %s", good[i], why);
		iox2i_json_free(j);
	}
	const char *bad[] = {"", "{", "{\"a\"}", "{\"a\":}", "[1,]", "01", "1.", "-", "\"\\x\"", "\"a", "{} x", "tru",
	                     "\"\\u0000\"", "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]", "\"\t\"", "{1:2}", "nul"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		iox2i_json *j;
		char why[256];
		int rc = iox2i_json_parse(bad[i], strlen(bad[i]), &j, why, sizeof why);
		CHECK(rc == IOX2_E_SERVICE_CORRUPTED && why[0], "parse %s: rc %d", bad[i], rc);
	}
	iox2i_json *j;
	char why[256];
	const char *doc = "{\"n\": 18446744073709551615, \"i\": -9223372036854775808, \"big\": 18446744073709551616, \"s\": \"a\\\"b\"}";
	CHECK(iox2i_json_parse(doc, strlen(doc), &j, why, sizeof why) == IOX2_OK, "%s", why);
	uint64_t u;
	int64_t i;
	CHECK(iox2i_json_uint(iox2i_json_get(j, "n"), &u) && u == UINT64_MAX, "uint max");
	CHECK(iox2i_json_int(iox2i_json_get(j, "i"), INT64_MIN, INT64_MAX, &i) && i == INT64_MIN, "int min");
	CHECK(!iox2i_json_uint(iox2i_json_get(j, "big"), &u), "uint overflow");
	CHECK(strcmp(iox2i_json_get(j, "s")->s, "a\"b") == 0, "string escape");
	iox2i_json_free(j);
	iox2i_buf b = {0};
	iox2i_json_str(&b, "a<b>&\"\\\n\x01\xe2\x80\xa8");
	CHECK(strcmp(b.p, "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\\u2028\"") == 0, "json_str: %s", b.p);
	iox2i_buf_free(&b);
}

static void test_duration(void) {
	struct {
		int64_t d;
		const char *want;
	} v[] = {{0, "0s"},           {1, "1ns"},        {1100, "1.1\xc2\xb5s"}, {2200000, "2.2ms"}, {1000000, "1ms"},
	         {1500000000, "1.5s"}, {3600000000000, "1h0m0s"}, {-1, "-1ns"}, {61000000000, "1m1s"}};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char buf[64];
		const char *s = iox2i_go_duration(v[i].d, buf, sizeof buf);
		CHECK(strcmp(s, v[i].want) == 0, "duration %lld = %s, want %s", (long long)v[i].d, s, v[i].want);
	}
}

static void test_static(void) {
	const char *doc = "{\n  \"version\": \"7\",\n  \"name\": \"a/b\",\n  \"pattern\": \"event\",\n  \"hash\": \"h\",\n"
	                  "  \"uid\": \"u\",\n  \"attributes\": [{\"Key\": \"k\", \"Value\": \"v\"}],\n"
	                  "  \"event\": {\"max_notifiers\": 16, \"max_listeners\": 16, \"max_nodes\": 36, \"event_id_max_value\": 255,"
	                  " \"notifier_created_event\": 3}\n}\n";
	iox2i_static sc;
	char why[512];
	int rc = iox2i_static_decode(doc, strlen(doc), "p", "h", &sc, why, sizeof why);
	CHECK(rc == IOX2_OK, "decode: %s", why);
	CHECK(sc.pattern_id == IOX2I_PATTERN_EVENT && sc.ev.created == 3 && sc.ev.dropped == -1 && sc.nattrs == 1,
	      "decoded values");
	iox2i_buf b = {0};
	iox2i_static_encode(&sc, &b);
	iox2i_static sc2;
	rc = iox2i_static_decode(b.p, b.len, "p", "h", &sc2, why, sizeof why);
	CHECK(rc == IOX2_OK && sc2.ev.created == 3 && sc2.ev.max_nodes == 36, "re-decode: %s\n%s", why, b.p);
	iox2i_buf_free(&b);
	iox2i_static_free(&sc);
	iox2i_static_free(&sc2);
	rc = iox2i_static_decode(doc, strlen(doc), "p", "other", &sc, why, sizeof why);
	CHECK(rc == IOX2_E_SERVICE_CORRUPTED && strstr(why, "describes service hash \"h\""), "hash: %s", why);
	iox2i_static_free(&sc);
	const char *nosect = "{\"pattern\": \"event\", \"hash\": \"h\"}";
	rc = iox2i_static_decode(nosect, strlen(nosect), "p", "h", &sc, why, sizeof why);
	CHECK(rc == IOX2_E_SERVICE_CORRUPTED && strstr(why, "lacks its event section"), "section: %s", why);
	iox2i_static_free(&sc);
	const char *hostile = "{\"pattern\": \"publish_subscribe\", \"publish_subscribe\": {\"max_publishers\": 1e9}}";
	char err[512];
	rc = iox2i_static_config_check((const uint8_t *)hostile, strlen(hostile), err, sizeof err);
	CHECK(rc == IOX2_E_SERVICE_CORRUPTED, "hostile: %d %s", rc, err);
	const char *huge = "{\"pattern\": \"publish_subscribe\", \"publish_subscribe\": {\"payload\": {\"Size\": 8, \"Align\": 8},"
	                   " \"payload_variant\": \"fixed\", \"max_publishers\": 1, \"max_subscribers\": 65536, \"max_nodes\": 1,"
	                   " \"subscriber_max_buffer_size\": 65536, \"subscriber_max_borrowed_samples\": 65536,"
	                   " \"enable_safe_overflow\": true}}";
	rc = iox2i_static_config_check((const uint8_t *)huge, strlen(huge), err, sizeof err);
	CHECK(rc == IOX2_E_RESOURCE_LIMIT && strstr(err, "a chunk index addresses at most 16777215"), "huge: %d %s", rc, err);
}

int main(void) {
	test_sha256();
	test_json();
	test_duration();
	test_static();
	if (fails) {
		printf("%d failures\n", fails);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
