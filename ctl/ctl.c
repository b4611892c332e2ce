/* Helpers shared by the luaotactl commands: see ctl.h. */
#include "ctl.h"

#include <errno.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

/* We use stravis() only; pick a strnvis() flavour to silence the warning. */
#define LIBBSD_NETBSD_VIS
#include <bsd/vis.h>

#include "admin/admin.h"
#include "admin/groups.h"
#include "proto/protocol.h"

const char *ctl_arg_get(const struct ctl_args *args, int key)
{
	const char *value = NULL;
	size_t i;

	for (i = 0; i < args->noptions; i++)
		if (args->options[i].key == key)
			value = args->options[i].value;
	return value;
}

int ctl_arg_has(const struct ctl_args *args, int key)
{
	size_t i;

	for (i = 0; i < args->noptions; i++)
		if (args->options[i].key == key)
			return 1;
	return 0;
}

int ctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("luaotactl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_EXIT_ERROR;
}

int ctl_usage_error(const struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "luaotactl: %s: ", ctl->cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: luaotactl [-c CONFIG] [-D DATABASE] %s %s\n",
		ctl->cmd->name, ctl->cmd->usage);
	return CTL_EXIT_USAGE;
}

static void conf_report(const char *message)
{
	ctl_error("%s", message);
}

/* Reads luaotad.conf once; 0, or -1 with its errors printed. */
static int conf_read(struct ctl *ctl)
{
	if (ctl->conf_state == 0) {
		config_defaults(&ctl->conf);
		ctl->conf_state = 1;
		if (config_load(&ctl->conf, ctl->conf_path, !ctl->conf_explicit,
				conf_report) != 0) {
			ctl_error("%s: configuration has errors (-c names "
				  "another)",
				  ctl->conf_path);
			ctl->conf_state = -1;
		}
		policy_settings_from_config(&ctl->settings, &ctl->conf);
	}
	return ctl->conf_state > 0 ? 0 : -1;
}

const struct policy_settings *ctl_settings(struct ctl *ctl)
{
	return conf_read(ctl) == 0 ? &ctl->settings : NULL;
}

struct store *ctl_open_store(struct ctl *ctl, int flags)
{
	struct stat sb;
	struct store *st;

	if (ctl->db_path == NULL) {
		if (conf_read(ctl) != 0)
			return NULL;
		ctl->db_path = ctl->conf.database;
	}

	/*
	 * A fresh install holds an empty file (tmpfiles.d): reading it is
	 * reading an empty inventory, so give it its schema first.
	 */
	if ((flags & STORE_READONLY) && stat(ctl->db_path, &sb) == 0 &&
	    S_ISREG(sb.st_mode) && sb.st_size == 0)
		flags = STORE_CREATE;
	st = store_open(ctl->db_path, flags);

	/* The store's message already names the file. */
	if (st == NULL)
		ctl_error("cannot open the inventory: %s", store_errmsg(NULL));
	else if (ctl->busy_ms >= 0)
		store_set_busy_timeout(st, ctl->busy_ms);
	return st;
}

void ctl_print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(
			   o, JSON_C_TO_STRING_PRETTY |
				  JSON_C_TO_STRING_NOSLASHESCAPE));
}

int ctl_report(const struct ctl *ctl, const struct admin_result *res)
{
	if (res->status == ADMIN_INVALID)
		return ctl_usage_error(ctl, "%s", res->message);
	return ctl_error("%s", res->message);
}

void ctl_format_time(int64_t seconds, char *buf, size_t size)
{
	admin_format_time(seconds, buf, size);
}

int ctl_parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
	return admin_parse_int(text, min, max, out);
}

void ctl_cell(const char *text, int width)
{
	char *shown = NULL;

	if (text == NULL)
		text = "-";
	else if (stravis(&shown, text,
			 VIS_SAFE | VIS_OCTAL | VIS_CSTYLE | VIS_TAB | VIS_NL) <
		 0)
		text = "?";
	else
		text = shown;
	if (width > 0)
		printf("%-*s  ", width, text);
	else
		printf("%s\n", text);
	free(shown);
}

int ctl_parse_duration(const char *text, int64_t *seconds)
{
	return admin_parse_duration(text, seconds);
}

int ctl_parse_time(const char *text, int64_t *out)
{
	return admin_parse_time(text, out);
}

int ctl_check_overrides(const struct ctl *ctl, const char *json)
{
	char why[256];

	if (policy_config_problem(json, why, sizeof(why)) != NULL)
		return ctl_usage_error(ctl, "%s", why);
	return CTL_EXIT_OK;
}

int ctl_check_config_size(struct store *st, int64_t group_id,
			  const char *group_config,
			  const struct store_chip *chip)
{
	struct admin_result res;

	if (admin_check_config_size(st, group_id, group_config, chip, &res) !=
	    0)
		return ctl_error("%s", res.message);
	return CTL_EXIT_OK;
}
