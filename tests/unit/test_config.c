/* conf/config.c: keywords, units, ranges and file:line errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scratch.h"

#include "conf/config.h"

static char dir[128];

static int setup(void **state)
{
	(void)state;
	return scratch_dir("luaota-config", 0, dir, sizeof(dir));
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to a config file and loads it; stderr goes to *errors. */
static int load(struct config *c, const char *text, char *errors,
		size_t errors_len)
{
	char path[256], log_path[256];
	FILE *fp;
	int rc, saved = dup(2);
	size_t n;

	snprintf(path, sizeof(path), "%s/luaotad.conf", dir);
	snprintf(log_path, sizeof(log_path), "%s/stderr", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	fflush(stderr);
	assert_non_null(freopen(log_path, "w", stderr));
	rc = config_load(c, path, 0, NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fp = fopen(log_path, "r");
	assert_non_null(fp);
	n = fread(errors, 1, errors_len - 1, fp);
	errors[n] = '\0';
	fclose(fp);
	return rc;
}

static void defaults_listen_everywhere(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.nlisten, 2);
	assert_string_equal(c.listen[0], "0.0.0.0:8266");
	assert_string_equal(c.listen[1], "[::]:8266");
	assert_int_equal(c.session_budget_ms, 20000);
	assert_int_equal(c.max_file_size, 16384);
	assert_int_equal(c.rejection_window_ms, 60000);
	config_free(&c);
}

static void parses_every_unit(void **state)
{
	struct config c;
	char errors[1024];

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.repository_recheck_ms, 1000);
	assert_int_equal(load(&c,
			      "# a comment\n"
			      "\n"
			      "listen = 127.0.0.1:9000   # trailing\n"
			      "listen = [::1]:9000\n"
			      "database=/var/tmp/x.db\n"
			      "session_budget = 5s\n"
			      "reply_timeout = 750ms\n"
			      "first_record_timeout = 2500\n"
			      "max_file_size = 32K\n"
			      "session_max_bytes = 1M\n"
			      "max_connections = 10\n"
			      "repository_recheck = 0\n"
			      "rejection_window = 0\n"
			      "log_level = debug\n",
			      errors, sizeof(errors)),
			 0);
	assert_string_equal(errors, "");
	assert_int_equal(c.nlisten, 2);
	assert_string_equal(c.listen[0], "127.0.0.1:9000");
	assert_string_equal(c.listen[1], "[::1]:9000");
	assert_string_equal(c.database, "/var/tmp/x.db");
	assert_int_equal(c.session_budget_ms, 5000);
	assert_int_equal(c.reply_timeout_ms, 750);
	assert_int_equal(c.first_record_ms, 2500);
	assert_int_equal(c.max_file_size, 32768);
	assert_int_equal(c.session_max_bytes, 1048576);
	assert_int_equal(c.max_connections, 10);
	assert_int_equal(c.repository_recheck_ms, 0);
	assert_int_equal(c.rejection_window_ms, 0);
	assert_int_equal(c.log_level, CONFIG_LOG_DEBUG);
	config_free(&c);
}

static void reports_every_error_with_its_line(void **state)
{
	struct config c;
	char errors[2048];

	(void)state;
	config_defaults(&c);
	assert_int_equal(load(&c,
			      "max_connections = ten\n"
			      "no_such_thing = 1\n"
			      "just words\n"
			      "session_budget = 3h\n"
			      "max_connections = 0\n"
			      "log_level = loud\n"
			      "listen = 8266\n"
			      "database =\n"
			      "max_file_size = 99999999999999999999999\n",
			      errors, sizeof(errors)),
			 -1);
	assert_non_null(strstr(errors, "luaotad.conf:1: max_connections: "
				       "not a non-negative integer"));
	assert_non_null(strstr(errors, ":2: no_such_thing: unknown keyword"));
	assert_non_null(strstr(errors, ":3: expected keyword = value"));
	assert_non_null(strstr(errors, ":4: session_budget: not a duration"));
	assert_non_null(strstr(errors, ":5: max_connections: value out of "
				       "range"));
	assert_non_null(strstr(errors, ":6: log_level:"));
	assert_non_null(strstr(errors, ":7: listen: expected ADDRESS:PORT"));
	assert_non_null(strstr(errors, ":8: database: missing value"));
	assert_non_null(strstr(errors, ":9: max_file_size: not a size"));
	config_free(&c);
}

/* A listen address is refused unless it can be listened on as written:
 * getaddrinfo alone takes port 99999 as 34463. */
static void listen_addresses_are_checked(void **state)
{
	static const char *const bad[] = {
		"127.0.0.1:99999",   "300.1.1.1:5", "*:-1",
		"*:65536",	     "*:",	    "*: 5",
		"[::1]:1x",	     "[::1:5",	    "::1:5",
		"host.example:8266",
	};
	static const char *const good[] = {
		"*:8266",	  "0.0.0.0:65535", "[::1]:1",
		"127.0.0.1:8266", ":8266",	   "127.0.0.1:0",
	};
	struct config c;
	char text[128], errors[1024];
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_defaults(&c);
		snprintf(text, sizeof(text), "listen = %s\n", bad[i]);
		if (load(&c, text, errors, sizeof(errors)) != -1)
			fail_msg("listen = %s was accepted", bad[i]);
		assert_non_null(strstr(errors, ":1: listen: "));
		assert_int_equal(config_add_listen(&c, bad[i], 1, &why), -1);
		assert_non_null(why);
		config_free(&c);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		config_defaults(&c);
		snprintf(text, sizeof(text), "listen = %s\n", good[i]);
		if (load(&c, text, errors, sizeof(errors)) != 0)
			fail_msg("listen = %s refused: %s", good[i], errors);
		assert_int_equal(c.nlisten, 1);
		assert_string_equal(c.listen[0], good[i]);
		config_free(&c);
	}
}

/* http_listen: off by default, one address or "off", checked as listen. */
static void http_listen_is_one_address_or_off(void **state)
{
	struct config c;
	char errors[1024];

	(void)state;
	config_defaults(&c);
	assert_null(c.http_listen);
	assert_int_equal(c.http_timeout_ms, 10000);
	assert_int_equal(c.http_max_body, 64 * 1024);
	assert_int_equal(load(&c,
			      "http_listen = 127.0.0.1:8267\n"
			      "http_timeout = 2s\nhttp_max_body = 1M\n",
			      errors, sizeof(errors)),
			 0);
	assert_string_equal(c.http_listen, "127.0.0.1:8267");
	assert_int_equal(c.http_timeout_ms, 2000);
	assert_int_equal(c.http_max_body, 1024 * 1024);
	assert_int_equal(
	    load(&c, "http_listen = off\n", errors, sizeof(errors)), 0);
	assert_null(c.http_listen);
	assert_int_equal(load(&c,
			      "http_listen = 127.0.0.1:99999\n"
			      "http_timeout = 10ms\nhttp_max_body = 1\n",
			      errors, sizeof(errors)),
			 -1);
	assert_non_null(strstr(errors, ":1: http_listen: "));
	assert_non_null(strstr(errors, ":2: http_timeout: value out of range"));
	assert_non_null(
	    strstr(errors, ":3: http_max_body: value out of range"));
	config_free(&c);
}

static void budget_must_be_below_deadline(void **state)
{
	struct config c;
	char errors[1024];

	(void)state;
	config_defaults(&c);
	assert_int_equal(
	    load(&c, "session_budget = 30s\n", errors, sizeof(errors)), -1);
	assert_non_null(strstr(errors, "session_budget must be below"));
	config_free(&c);
}

static void missing_file_is_fine_only_when_allowed(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, "/nonexistent/luaotad.conf", 1, NULL),
			 0);
	assert_int_equal(c.nlisten, 2);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_listen_everywhere),
		cmocka_unit_test(parses_every_unit),
		cmocka_unit_test(reports_every_error_with_its_line),
		cmocka_unit_test(listen_addresses_are_checked),
		cmocka_unit_test(http_listen_is_one_address_or_off),
		cmocka_unit_test(budget_must_be_below_deadline),
		cmocka_unit_test(missing_file_is_fine_only_when_allowed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
