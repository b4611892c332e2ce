/* device/: the luaOTA responder core against a scripted fake server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "device_fake.h"
#include "luaota.h"

#define CONFIG_FILE "luaOTA/config.json"

static int setup(void **state)
{
	struct fake_world *w = malloc(sizeof(*w));

	if (w == NULL)
		return -1;
	fake_world_init(w);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	fake_world_free(*state);
	free(*state);
	return 0;
}

/* Asserts the flash file name holds exactly text. */
static void assert_file(struct fake_world *w, const char *name,
			const char *text)
{
	size_t len;
	uint8_t *got = fake_get(w, name, &len);

	assert_non_null(got);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(got, text, len);
	free(got);
}

static void assert_no_file(struct fake_world *w, const char *name)
{
	size_t len;
	uint8_t *got = fake_get(w, name, &len);

	assert_null(got);
}

/* No staging file is left on the flash. */
static void assert_no_staging(struct fake_world *w)
{
	assert_no_file(w, LUAOTA_STAGE_FILE);
	assert_no_file(w, LUAOTA_STAGE_LC);
	assert_no_file(w, LUAOTA_STAGE_CONFIG);
}

static void hi_carries_config_minus_secret(void **state)
{
	struct fake_world *w = *state;
	static const char config[] =
	    "{\"ssid\":\"dummy-ssid\",\"secret\":\"selftest-secret\",\n"
	    " \"files\": {\"a.lua\": \"1\",\n \"b\":[1, 2]},\"leave\":false,"
	    "\"a\":\"old\",\"id\":1,\"x\":\"q\\\"\\u00e9\",\"port\":1}\n";

	fake_put(w, CONFIG_FILE, config, strlen(config));
	fake_add(w, "{\"r\":\"OK!\"}", NULL, 0);
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_int_equal(w->result.outcome, LUAOTA_APP_CURRENT);
	/* Config order, compacted; overrides after it; then a and id. */
	assert_string_equal(
	    fake_sent_json(w, 0),
	    "{\"ssid\":\"dummy-ssid\",\"files\":{\"a.lua\":\"1\",\"b\":[1,2]},"
	    "\"leave\":false,\"x\":\"q\\\"\\u00e9\",\"server\":\"192.0.2.1\","
	    "\"port\":8266,\"a\":\"HI\",\"id\":13572468}");
	assert_string_equal(w->net.host, "192.0.2.1");
	assert_int_equal(w->net.port, 8266);
	assert_string_equal(w->result.app, "luaOTA.default");
	assert_string_equal(w->result.entry, "entry");
}

static void hi_uses_config_and_string_ids(void **state)
{
	struct fake_world *w = *state;
	static const char config[] =
	    "{\"server\":\"srv.example\",\"port\":\"9000\",\"secret\":"
	    "\"selftest-secret\",\"app\":\"main\",\"entry\":\"go\"}";
	static const struct luaota_override nil_app[] = {
		{ "ssid", "nil", LUAOTA_VALUE_STRING },
	};

	fake_put(w, CONFIG_FILE, config, strlen(config));
	fake_add(w, "{\"r\":\"OK!\"}", NULL, 0);
	assert_int_equal(fake_boot(w, "ESP-0a\"1", nil_app, 1), LUAOTA_OK);
	assert_string_equal(fake_sent_json(w, 0),
			    "{\"server\":\"srv.example\",\"port\":\"9000\","
			    "\"app\":\"main\",\"entry\":\"go\",\"ssid\":false,"
			    "\"a\":\"HI\",\"id\":\"ESP-0a\\\"1\"}");
	assert_int_equal(w->net.port, 9000);
	assert_string_equal(w->result.app, "main");
	assert_string_equal(w->result.entry, "go");
}

static void missing_server_or_secret_is_config_error(void **state)
{
	struct fake_world *w = *state;
	static const struct luaota_override only_server[] = {
		{ "server", "192.0.2.1", LUAOTA_VALUE_STRING },
	};

	assert_int_equal(fake_boot(w, "1", NULL, 0), LUAOTA_ECONFIG);
	assert_int_equal(fake_boot(w, "1", only_server, 1), LUAOTA_ECONFIG);
	assert_int_equal(w->net.n_sent, 0);
	fake_put(w, CONFIG_FILE,
		 "{\"secret\":\"s\",\"server\":\"h\","
		 "\"port\":70000}",
		 41);
	assert_int_equal(fake_boot(w, "1", NULL, 0), LUAOTA_ECONFIG);
}

/* Records captured from the NodeMCU client and example server (secret
 * selftest-secret, chip 13572468), as bytes. */
static void captured_records_are_understood(void **state)
{
	struct fake_world *w = *state;
	static const char config[] =
	    "{\"leave\":false,\"port\":37823,\"ssid\":\"dummy-ssid\","
	    "\"spwd\":\"dummy-pwd\",\"server\":\"127.0.0.1\","
	    "\"secret\":\"selftest-secret\"}";
	static const char pu[] = "{\"a\":\"pu\",\"data\":1024}d4754b\n";
	static const char ok[] = "{\"r\":\"OK!\"}fe4d30\n";
	uint8_t rec[sizeof(pu) - 1 + 1024];

	fake_put(w, CONFIG_FILE, config, strlen(config));
	memcpy(rec, pu, sizeof(pu) - 1);
	memset(rec + sizeof(pu) - 1, 'c', 1024);
	fake_add_raw(w, rec, sizeof(rec));
	assert_int_equal(fake_boot(w, "13572468", NULL, 0), LUAOTA_OK);
	assert_string_equal(fake_sent_json(w, 0),
			    "{\"leave\":false,\"port\":37823,\"ssid\":"
			    "\"dummy-ssid\",\"spwd\":\"dummy-pwd\",\"server\":"
			    "\"127.0.0.1\",\"a\":\"HI\",\"id\":13572468}");
	assert_int_equal(w->net.port, 37823);
	assert_int_equal(w->result.commands, 1);
	assert_string_equal(fake_sent_json(w, 1), "{\"s\":\"OK\"}");

	fake_world_free(w);
	fake_world_init(w);
	fake_put(w, CONFIG_FILE, config, strlen(config));
	fake_add_raw(w, ok, sizeof(ok) - 1);
	assert_int_equal(fake_boot(w, "13572468", NULL, 0), LUAOTA_OK);
	assert_int_equal(w->result.outcome, LUAOTA_APP_CURRENT);
}

static void ok_reply_starts_app_whatever_its_signature(void **state)
{
	struct fake_world *w = *state;

	fake_add_badsig(w, "{\"x\":1,\"r\":\"OK!\"}");
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_int_equal(w->result.outcome, LUAOTA_APP_CURRENT);
	assert_int_equal(w->result.commands, 0);
}

static void bad_first_reply_starts_app(void **state)
{
	struct fake_world *w = *state;
	static const char *const bad[] = { "{\"a\":\"ls\"}\n", "short12345\n",
					   "{\"a\":\"ls\"}ABCDEF\n" };
	size_t i;

	for (i = 0; i < 3; i++) {
		struct fake_world *v = malloc(sizeof(*v));

		assert_non_null(v);
		fake_world_init(v);
		fake_add_raw(v, bad[i], strlen(bad[i]));
		assert_int_equal(fake_boot_default(v), LUAOTA_OK);
		assert_int_equal(v->result.outcome, LUAOTA_APP_REJECTED);
		assert_int_equal(v->net.n_sent, 1); /* HI only */
		fake_world_free(v);
		free(v);
	}
	fake_add_badsig(w, "{\"a\":\"dl\",\"name\":\"x\",\"data\":0}");
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_int_equal(w->result.outcome, LUAOTA_APP_REJECTED);
	assert_int_equal(fake_count_files(w), 0);
}

static void first_reply_waits_three_seconds(void **state)
{
	struct fake_world *w = *state;
	uint32_t start = w->clock.now;

	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_int_equal(w->result.outcome, LUAOTA_APP_NOREPLY);
	assert_int_equal((uint32_t)(w->clock.now - start), 3000);
	assert_false(w->net.connected);
}

static void first_reply_in_time_is_served(void **state)
{
	struct fake_world *w = *state;

	fake_add(w, "{\"a\":\"ls\"}", NULL, 0);
	w->net.delay_ms[0] = 2999;
	w->net.eof_when_done = 1;
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_int_equal(w->result.commands, 1);
	assert_int_equal(w->result.outcome, LUAOTA_APP_CLOSED);
}

static void refused_connection_starts_app(void **state)
{
	struct fake_world *w = *state;

	w->net.refuse_connect = 1;
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_int_equal(w->result.outcome, LUAOTA_APP_NOREPLY);
	assert_int_equal(w->net.n_sent, 0);
}

static void ls_lists_files_but_not_staging(void **state)
{
	struct fake_world *w = *state;

	fake_put(w, "init.lua", "print(1)\n", 9);
	fake_put(w, "luaOTA/x.lc", "", 0);
	fake_add(w, "{\"a\":\"pu\",\"data\":3}", "abc", 3);
	fake_add(w, "{\"a\":\"ls\"}", NULL, 0);
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_string_equal(fake_sent_json(w, 1), "{\"s\":\"OK\"}");
	/* readdir order is the directory's: check members, not order. */
	assert_non_null(strstr(fake_sent_json(w, 2), "\"init.lua\":9"));
	assert_non_null(strstr(fake_sent_json(w, 2), "\"luaOTA/x.lc\":0"));
	assert_null(strstr(fake_sent_json(w, 2), "~"));
	assert_int_equal(strncmp(fake_sent_json(w, 2), "{\"s\":\"OK\",", 10),
			 0);
	/* The session then timed out: the unfinished file is dropped. */
	assert_int_equal(w->result.outcome, LUAOTA_APP_TIMEOUT);
	assert_no_staging(w);
}

static void mv_renames_and_delete_idiom(void **state)
{
	struct fake_world *w = *state;

	fake_put(w, "a", "A", 1);
	fake_put(w, "b", "B", 1);
	fake_put(w, "c", "C", 1);
	fake_add(w, "{\"a\":\"mv\",\"from\":\"a\",\"to\":\"b\"}", NULL, 0);
	fake_add(w, "{\"a\":\"mv\",\"from\":\"nope\",\"to\":\"c\"}", NULL, 0);
	fake_add(w, "{\"a\":\"mv\",\"from\":\"c\",\"to\":\"c\"}", NULL, 0);
	fake_add(w, "{\"a\":\"mv\",\"from\":\"b\",\"to\":\"../b\"}", NULL, 0);
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_string_equal(fake_sent_json(w, 1), "{\"s\":\"OK\"}");
	assert_string_equal(fake_sent_json(w, 2), "{\"s\":\"OK\"}");
	assert_string_equal(fake_sent_json(w, 3), "{\"s\":\"Rename failed\"}");
	assert_string_equal(fake_sent_json(w, 4), "{\"s\":\"bad name\"}");
	assert_no_file(w, "a");
	assert_file(w, "b", "A");
	assert_no_file(w, "c");
}

/* Sends text as pu chunks of chunk bytes and a final dl. */
static void script_file(struct fake_world *w, const char *action,
			const char *name, const char *text, size_t chunk)
{
	size_t len = strlen(text), off = 0, n;
	char json[128];

	do {
		n = len - off > chunk ? chunk : len - off;
		if (off + n < len)
			snprintf(json, sizeof(json),
				 "{\"a\":\"pu\",\"data\":%zu}", n);
		else
			snprintf(json, sizeof(json),
				 "{\"data\":%zu,\"name\":\"%s\",\"a\":\"%s\"}",
				 n, name, action);
		fake_add(w, json, text + off, n);
		off += n;
	} while (off < len);
}

static void pu_dl_writes_file_from_split_records(void **state)
{
	static const size_t pieces[] = { 1, 7, 100, 0 };
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		struct fake_world *w = malloc(sizeof(*w));

		assert_non_null(w);
		fake_world_init(w);
		fake_put(w, "data.txt", "old contents", 12);
		w->net.piece = pieces[i];
		script_file(w, "dl", "data.txt",
			    "The quick brown fox jumps over the lazy dog", 10);
		w->net.eof_when_done = 1;
		assert_int_equal(fake_boot_default(w), LUAOTA_OK);
		assert_int_equal(w->net.n_sent, 6);
		assert_string_equal(fake_sent_json(w, 5), "{\"s\":\"OK\"}");
		assert_file(w, "data.txt",
			    "The quick brown fox jumps over the lazy dog");
		assert_int_equal(w->result.files_written, 1);
		assert_no_staging(w);
		fake_world_free(w);
		free(w);
	}
}

static void dl_of_empty_file(void **state)
{
	struct fake_world *w = *state;

	fake_add(w, "{\"a\":\"dl\",\"name\":\"empty\",\"data\":0}", NULL, 0);
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_string_equal(fake_sent_json(w, 1), "{\"s\":\"OK\"}");
	assert_file(w, "empty", "");
}

static void cm_compiles_and_reports_lcsize(void **state)
{
	struct fake_world *w = *state;
	size_t len;
	uint8_t *lc;
	char expect[64];

	script_file(w, "cm", "app1.lua",
		    "local t = {}\nfor i = 1, 3 do t[i] = i * 2 end\n"
		    "return t\n",
		    16);
	fake_add(w, "{\"a\":\"cm\",\"name\":\"bad.lua\",\"data\":5}",
		 "x = =", 5);
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	lc = fake_get(w, "app1.lc", &len);
	assert_non_null(lc);
	assert_true(len > 12);
	assert_int_equal(lc[0], 0x1b);
	free(lc);
	snprintf(expect, sizeof(expect), "{\"s\":\"OK\",\"lcsize\":%zu}", len);
	assert_string_equal(fake_sent_json(w, 4), expect);
	assert_no_file(w, "app1.lua");
	assert_no_file(w, "bad.lc");
	assert_non_null(strstr(fake_sent_json(w, 5),
			       "{\"s\":\"compile fail\",\"err\":\"[string "
			       "\\\"bad.lua\\\"]:1:"));
	assert_no_staging(w);
}

static void ul_reads_part_of_a_file(void **state)
{
	struct fake_world *w = *state;
	const uint8_t *p;
	size_t len;

	fake_put(w, "f.bin", "0123456789", 10);
	fake_add(w, "{\"a\":\"ul\",\"name\":\"f.bin\",\"offset\":3,\"len\":4}",
		 NULL, 0);
	fake_add(w, "{\"a\":\"ul\",\"name\":\"f.bin\",\"offset\":8}", NULL, 0);
	fake_add(w, "{\"a\":\"ul\",\"name\":\"none\",\"len\":4}", NULL, 0);
	fake_add(w, "{\"a\":\"ul\",\"name\":\"/f.bin\",\"len\":4}", NULL, 0);
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_string_equal(fake_sent_json(w, 1), "{\"s\":\"OK\"}");
	p = fake_sent_payload(w, 1, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "3456", 4);
	p = fake_sent_payload(w, 2, &len);
	assert_int_equal(len, 2);
	assert_memory_equal(p, "89", 2);
	assert_string_equal(fake_sent_json(w, 3), "{\"s\":\"OK\"}");
	fake_sent_payload(w, 3, &len);
	assert_int_equal(len, 0);
	assert_string_equal(fake_sent_json(w, 4), "{\"s\":\"bad name\"}");
}

static void restart_writes_config_and_reboots(void **state)
{
	struct fake_world *w = *state;

	fake_put(w, CONFIG_FILE, "{\"ssid\":\"old\"}", 14);
	fake_add(w,
		 "{\"a\":\"restart\",\"ssid\":\"new\",\"chk\":\"c1\","
		 "\"secret\":\"injected\",\"files\":{\"x\":\"1\"},"
		 "\"port\":8266,\"server\":\"192.0.2.1\"}",
		 NULL, 0);
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_int_equal(w->result.outcome, LUAOTA_REBOOT);
	assert_int_equal(w->net.n_sent, 1); /* restart has no reply */
	assert_file(w, CONFIG_FILE,
		    "{\"ssid\":\"new\",\"chk\":\"c1\",\"files\":{\"x\":\"1\"},"
		    "\"port\":8266,\"server\":\"192.0.2.1\","
		    "\"secret\":\"selftest-secret\"}\n");
	assert_no_staging(w);

	/* The next boot says HI with the new config, no override needed. */
	fake_world_free(w);
	fake_world_init(w);
	fake_put(w, CONFIG_FILE,
		 "{\"ssid\":\"new\",\"chk\":\"c1\",\"server\":\"192.0.2.1\","
		 "\"secret\":\"selftest-secret\"}\n",
		 strlen("{\"ssid\":\"new\",\"chk\":\"c1\",\"server\":"
			"\"192.0.2.1\",\"secret\":\"selftest-secret\"}\n"));
	fake_add(w, "{\"r\":\"OK!\"}", NULL, 0);
	assert_int_equal(fake_boot(w, "7", NULL, 0), LUAOTA_OK);
	assert_string_equal(fake_sent_json(w, 0),
			    "{\"ssid\":\"new\",\"chk\":\"c1\",\"server\":"
			    "\"192.0.2.1\",\"a\":\"HI\",\"id\":7}");
}

static void restart_write_failure_keeps_old_config(void **state)
{
	struct fake_world *w = *state;
	static const char old[] = "{\"ssid\":\"old\"}";

	fake_put(w, CONFIG_FILE, old, strlen(old));
	fake_add(w, "{\"a\":\"restart\",\"ssid\":\"new\"}", NULL, 0);
	w->flash.fail_write_at = 1;
	assert_int_equal(fake_boot_default(w), LUAOTA_EFLASH);
	assert_file(w, CONFIG_FILE, old);
	assert_no_staging(w);

	fake_world_free(w);
	fake_world_init(w);
	fake_put(w, CONFIG_FILE, old, strlen(old));
	fake_add(w, "{\"a\":\"restart\",\"ssid\":\"new\"}", NULL, 0);
	w->flash.fail_rename_to = CONFIG_FILE;
	assert_int_equal(fake_boot_default(w), LUAOTA_EFLASH);
	assert_file(w, CONFIG_FILE, old);
	assert_no_staging(w);
}

static void restart_over_1024_bytes_is_refused(void **state)
{
	struct fake_world *w = *state;
	static const char old[] = "{\"ssid\":\"old\"}";
	char json[1200];

	memset(json, 'x', sizeof(json));
	memcpy(json, "{\"a\":\"restart\",\"chk\":\"", 22);
	memcpy(json + 1100, "\"}", 3);
	fake_put(w, CONFIG_FILE, old, strlen(old));
	fake_add(w, json, NULL, 0);
	assert_int_equal(fake_boot_default(w), LUAOTA_ETOOBIG);
	assert_file(w, CONFIG_FILE, old);
	assert_no_staging(w);
}

/* A session of several commands with a bad signature at step bad. */
static void run_badsig_at(int bad)
{
	struct fake_world *w = malloc(sizeof(*w));
	static const char *const cmds[] = {
		"{\"a\":\"dl\",\"name\":\"one\",\"data\":3}",
		"{\"a\":\"pu\",\"data\":3}",
		"{\"a\":\"dl\",\"name\":\"two\",\"data\":3}",
		"{\"a\":\"ls\"}",
		"{\"a\":\"restart\",\"chk\":\"new\"}",
	};
	int i;

	assert_non_null(w);
	fake_world_init(w);
	fake_put(w, "two", "old", 3);
	fake_put(w, CONFIG_FILE, "{\"chk\":\"old\"}", 13);
	for (i = 0; i < 5; i++) {
		if (i == bad)
			fake_add_badsig(w, cmds[i]);
		else
			fake_add(w, cmds[i], "NEW", i < 3 ? 3 : 0);
	}
	if (bad == 0) {
		assert_int_equal(fake_boot_default(w), LUAOTA_OK);
		assert_int_equal(w->result.outcome, LUAOTA_APP_REJECTED);
	} else {
		assert_int_equal(fake_boot_default(w), LUAOTA_EAUTH);
	}
	/* Files finished before the bad record stay; the rest is as before. */
	if (bad >= 1)
		assert_file(w, "one", "NEW");
	else
		assert_no_file(w, "one");
	assert_file(w, "two", bad >= 3 ? "NEWNEW" : "old");
	assert_file(w, CONFIG_FILE, "{\"chk\":\"old\"}");
	assert_no_staging(w);
	assert_int_equal(w->net.n_sent, (size_t)(bad + 1));
	assert_false(w->net.connected);
	fake_world_free(w);
	free(w);
}

static void bad_signature_at_every_step(void **state)
{
	int bad;

	(void)state;
	for (bad = 0; bad < 5; bad++)
		run_badsig_at(bad);
}

static void malformed_records_are_protocol_errors(void **state)
{
	/* Each long enough (16 bytes with the signature) to be a record. */
	static const char *const bad_json[] = {
		"{\"p\":\"long enough\",\"a\":\"ls\"",
		"[\"a\",\"ls\",\"long enough\"]",
		"{\"a\":\"ls\",\"p\":\"long enough\"} x",
		"{\"a\":\"pu\",\"p\":\"long enough\"}",
		"{\"a\":\"pu\",\"data\":-1}",
		"{\"a\":\"pu\",\"data\":1.5}",
		"{\"a\":\"pu\",\"data\":\"3\"}",
		"{\"a\":ls,\"p\":\"long enough\"}",
		"{\"a\":\"ls\",\"p\":\"long\" \"enough\"}",
		"{\"a\":\"ls\",\"p\":\"bad \\q escape\"}",
		"{\"a\":\"ls\",\"p\":nul,\"q\":1}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		struct fake_world *w = malloc(sizeof(*w));

		assert_non_null(w);
		fake_world_init(w);
		fake_add(w, "{\"a\":\"pu\",\"data\":2}", "ab", 2);
		fake_add(w, bad_json[i], NULL, 0);
		assert_int_equal(fake_boot_default(w), LUAOTA_EPROTO);
		assert_no_staging(w);
		fake_world_free(w);
		free(w);
	}
}

static void data_over_the_cap_and_extra_bytes(void **state)
{
	struct fake_world *w = *state;
	static uint8_t big[1500];
	uint8_t two[64];
	size_t len;

	/* {"a":"pu","data":N} is 22 bytes: N = 1431 fills the segment. */
	fake_add(w, "{\"a\":\"pu\",\"data\":1431}", big, 1431);
	fake_add(w, "{\"a\":\"pu\",\"data\":1432}", NULL, 0);
	assert_int_equal(fake_boot_default(w), LUAOTA_EPROTO);
	assert_string_equal(fake_sent_json(w, 1), "{\"s\":\"OK\"}");
	assert_int_equal(w->net.n_sent, 2);
	assert_no_staging(w);

	fake_world_free(w);
	fake_world_init(w);
	fake_add(w, "{\"a\":\"ls\"}", NULL, 0);
	fake_add(w, "{\"a\":\"pu\",\"data\":99999999}", NULL, 0);
	assert_int_equal(fake_boot_default(w), LUAOTA_EPROTO);

	/* Two records in one delivery: the client is lock-step. */
	fake_world_free(w);
	fake_world_init(w);
	fake_add(w, "{\"a\":\"ls\"}", NULL, 0);
	len = w->net.record_len[0];
	memcpy(two, w->net.records[0], len);
	memcpy(two + len, w->net.records[0], len);
	fake_add_raw(w, two, 2 * len);
	assert_int_equal(fake_boot_default(w), LUAOTA_EPROTO);
	assert_int_equal(w->net.n_sent, 2);
}

static void hostile_names_write_nothing(void **state)
{
	static const char *const names[] = {
		"/etc/passwd",
		"../x",
		"a/../b",
		"a/..",
		"",
		".",
		"a//b",
		"a\\u0001b",
		"0123456789012345678901234567890123",
		"luaOTA/.~stage",
		"dir/",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct fake_world *w = malloc(sizeof(*w));
		char json[160];

		assert_non_null(w);
		fake_world_init(w);
		snprintf(json, sizeof(json),
			 "{\"a\":\"dl\",\"name\":\"%s\",\"data\":1}", names[i]);
		fake_add(w, "{\"a\":\"pu\",\"data\":1}", "x", 1);
		fake_add(w, json, "y", 1);
		snprintf(json, sizeof(json),
			 "{\"a\":\"cm\",\"name\":\"%s.lua\",\"data\":1}",
			 names[i]);
		fake_add(w, json, "y", 1);
		fake_add(w, "{\"a\":\"cm\",\"name\":\".lua\",\"data\":1}", "y",
			 1);
		assert_int_equal(fake_boot_default(w), LUAOTA_OK);
		assert_string_equal(fake_sent_json(w, 2),
				    "{\"s\":\"bad name\"}");
		/* "<name>.lua" may be a fine name: it must not compile. */
		assert_null(strstr(fake_sent_json(w, 3), "\"s\":\"OK\""));
		assert_string_equal(fake_sent_json(w, 4),
				    "{\"s\":\"bad name\"}");
		assert_int_equal(fake_count_files(w), 0);
		fake_world_free(w);
		free(w);
	}
}

static void escaped_names_decode_to_utf8(void **state)
{
	struct fake_world *w = *state;

	fake_add(w,
		 "{\"a\":\"dl\",\"name\":\"\\u00e9t\\u00E9\\/x\",\"data\":1}",
		 "1", 1);
	fake_add(w,
		 "{\"a\":\"dl\",\"name\":\"\\ud83d\\ude00\\u20ac\",\"data\":1}",
		 "2", 1);
	fake_add(w, "{\"a\":\"dl\",\"name\":\"\\ud83d\",\"data\":1}", "3", 1);
	fake_add(w, "{\"a\":\"dl\",\"name\":\"a\\u0000b\",\"data\":1}", "4", 1);
	fake_add(w, "{\"a\":\"dl\",\"name\":\"\\ude00\",\"data\":1}", "5", 1);
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_file(w, "\xc3\xa9t\xc3\xa9/x", "1");
	assert_file(w, "\xf0\x9f\x98\x80\xe2\x82\xac", "2");
	assert_string_equal(fake_sent_json(w, 3), "{\"s\":\"bad name\"}");
	assert_string_equal(fake_sent_json(w, 4), "{\"s\":\"bad name\"}");
	assert_string_equal(fake_sent_json(w, 5), "{\"s\":\"bad name\"}");
	assert_int_equal(fake_count_files(w), 2);
}

static void name_check_rules(void **state)
{
	(void)state;
	assert_int_equal(luaota_name_check("init.lua", 8), 0);
	assert_int_equal(luaota_name_check("luaOTA/config.json", 18), 0);
	assert_int_equal(luaota_name_check("a/.b", 4), 0);
	assert_int_equal(luaota_name_check("..a", 3), 0);
	assert_int_equal(luaota_name_check("a..", 3), 0);
	assert_int_equal(luaota_name_check("", 0), -1);
	assert_int_equal(luaota_name_check("/a", 2), -1);
	assert_int_equal(luaota_name_check("..", 2), -1);
	assert_int_equal(luaota_name_check("a/../b", 6), -1);
	assert_int_equal(luaota_name_check("a\nb", 3), -1);
	assert_int_equal(luaota_name_check("a\x7f", 2), -1);
	assert_int_equal(luaota_name_check("luaOTA/.~x", 10), -1);
	assert_int_equal(
	    luaota_name_check("0123456789012345678901234567890", 31), 0);
	assert_int_equal(
	    luaota_name_check("01234567890123456789012345678901", 32), -1);
	assert_int_equal(luaota_name_check(NULL, 0), -1);
}

static void write_failure_midway_keeps_old_file(void **state)
{
	struct fake_world *w = *state;
	static const char old[] = "the old contents survive";

	fake_put(w, "main.lua", old, strlen(old));
	w->flash.fail_write_at = 2; /* the second chunk */
	script_file(w, "dl", "main.lua", "AAAABBBBCCCCDDDD", 4);
	fake_add(w, "{\"a\":\"dl\",\"name\":\"other\",\"data\":2}", "ok", 2);
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_string_equal(fake_sent_json(w, 1), "{\"s\":\"OK\"}");
	assert_string_equal(fake_sent_json(w, 2), "{\"s\":\"write failed\"}");
	assert_string_equal(fake_sent_json(w, 3), "{\"s\":\"write failed\"}");
	assert_string_equal(fake_sent_json(w, 4), "{\"s\":\"write failed\"}");
	/* The next file starts afresh and succeeds. */
	assert_string_equal(fake_sent_json(w, 5), "{\"s\":\"OK\"}");
	assert_file(w, "main.lua", old);
	assert_file(w, "other", "ok");
	assert_no_staging(w);
}

static void rename_failure_keeps_old_file(void **state)
{
	struct fake_world *w = *state;

	fake_put(w, "x.lc", "old", 3);
	w->flash.fail_rename_to = "x.lc";
	fake_add(w, "{\"a\":\"cm\",\"name\":\"x.lua\",\"data\":8}", "return 1",
		 8);
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_string_equal(
	    fake_sent_json(w, 1),
	    "{\"s\":\"compile fail\",\"err\":\"file write failed\"}");
	assert_file(w, "x.lc", "old");
	assert_no_staging(w);
}

static void session_backstop_is_thirty_seconds_in_all(void **state)
{
	struct fake_world *w = *state;
	static const char old[] = "old";
	uint32_t start;

	/* Each command comes 9 s after the last reply: the session starts
	 * with the first, the fourth comes at 27 s, the dl would at 36 s. */
	fake_put(w, "big", old, 3);
	script_file(w, "dl", "big", "0123456789ABCDEFGHIJ", 4);
	w->net.delay_ms[1] = 9000;
	w->net.delay_ms[2] = 9000;
	w->net.delay_ms[3] = 9000;
	w->net.delay_ms[4] = 9000;
	start = w->clock.now;
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_int_equal(w->result.outcome, LUAOTA_APP_TIMEOUT);
	assert_int_equal(w->result.commands, 4);
	assert_int_equal((uint32_t)(w->clock.now - start), 30000);
	assert_file(w, "big", old);
	assert_no_staging(w);
	assert_false(w->net.connected);
}

static void unknown_command_gets_ok(void **state)
{
	struct fake_world *w = *state;

	fake_add(w, "{\"a\":\"zz\",\"x\":[1,{\"y\":null}]}", NULL, 0);
	fake_add(w, "{\"b\":1,\"c\":\"xyz\"}", NULL, 0);
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_string_equal(fake_sent_json(w, 1), "{\"s\":\"OK\"}");
	assert_string_equal(fake_sent_json(w, 2), "{\"s\":\"OK\"}");
}

static void failed_send_ends_the_boot(void **state)
{
	struct fake_world *w = *state;

	w->net.fail_send_at = 1; /* HI */
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_int_equal(w->result.outcome, LUAOTA_APP_NOREPLY);

	fake_world_free(w);
	fake_world_init(w);
	fake_add(w, "{\"a\":\"pu\",\"data\":2}", "ab", 2);
	w->net.fail_send_at = 2; /* the reply */
	assert_int_equal(fake_boot_default(w), LUAOTA_OK);
	assert_int_equal(w->result.outcome, LUAOTA_APP_CLOSED);
	assert_no_staging(w);
}

static void bad_arguments(void **state)
{
	struct fake_world *w = *state;
	struct luaota_boot_args args = { NULL, NULL, 0 };

	assert_int_equal(luaota_boot(NULL, &w->port, &args, &w->result),
			 LUAOTA_EINVAL);
	assert_int_equal(luaota_boot(&w->dev, &w->port, &args, &w->result),
			 LUAOTA_EINVAL);
	assert_int_equal(w->net.n_sent, 0);
}

static void strerror_covers_every_code(void **state)
{
	int e;

	(void)state;
	for (e = LUAOTA_EINVAL; e <= LUAOTA_OK; e++)
		assert_string_not_equal(luaota_strerror((enum luaota_err)e),
					"unknown error");
	for (e = LUAOTA_APP_CURRENT; e <= LUAOTA_REBOOT; e++)
		assert_string_not_equal(
		    luaota_outcome_str((enum luaota_outcome)e),
		    "unknown outcome");
	assert_string_equal(luaota_strerror((enum luaota_err)42),
			    "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(hi_carries_config_minus_secret),
		T(hi_uses_config_and_string_ids),
		T(missing_server_or_secret_is_config_error),
		T(captured_records_are_understood),
		T(ok_reply_starts_app_whatever_its_signature),
		T(bad_first_reply_starts_app),
		T(first_reply_waits_three_seconds),
		T(first_reply_in_time_is_served),
		T(refused_connection_starts_app),
		T(ls_lists_files_but_not_staging),
		T(mv_renames_and_delete_idiom),
		T(pu_dl_writes_file_from_split_records),
		T(dl_of_empty_file),
		T(cm_compiles_and_reports_lcsize),
		T(ul_reads_part_of_a_file),
		T(restart_writes_config_and_reboots),
		T(restart_write_failure_keeps_old_config),
		T(restart_over_1024_bytes_is_refused),
		T(bad_signature_at_every_step),
		T(malformed_records_are_protocol_errors),
		T(data_over_the_cap_and_extra_bytes),
		T(hostile_names_write_nothing),
		T(escaped_names_decode_to_utf8),
		T(name_check_rules),
		T(write_failure_midway_keeps_old_file),
		T(rename_failure_keeps_old_file),
		T(session_backstop_is_thirty_seconds_in_all),
		T(unknown_command_gets_ok),
		T(failed_send_ends_the_boot),
		T(bad_arguments),
		T(strerror_covers_every_code),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
