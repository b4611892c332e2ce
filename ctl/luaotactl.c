/*
 * luaotactl: the operator's CLI over the inventory.  A table of commands
 * (each defined in its cmd_*.c), global options, then per-command option
 * parsing with getopt_long before the handler runs.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd_admin.h"
#include "cmd_chip.h"
#include "cmd_diff.h"
#include "cmd_group.h"
#include "cmd_history.h"
#include "cmd_pull.h"
#include "cmd_repo.h"
#include "cmd_rollout.h"
#include "cmd_token.h"
#include "ctl.h"

#ifndef LUAOTA_VERSION
#define LUAOTA_VERSION "unknown"
#endif

/* In the order --help lists them. */
/* clang-format off */
static const struct ctl_cmd *const commands[] = {
	&cmd_add_entry,
	&cmd_list_entry,
	&cmd_show_entry,
	&cmd_set_entry,
	&cmd_remove_entry,
	&cmd_history_show_entry, /* before "history": a longer name */
	&cmd_history_entry,
	&cmd_diff_entry,
	&cmd_reprovision_entry,
	&cmd_pull_entry,
	&cmd_pulls_show_entry, /* before "pulls": a longer name */
	&cmd_pulls_entry,
	&cmd_group_add_entry,
	&cmd_group_set_entry,
	&cmd_group_list_entry,
	&cmd_group_show_entry,
	&cmd_group_remove_entry,
	&cmd_group_pin_entry,
	&cmd_group_unpin_entry,
	&cmd_rollout_start_entry,
	&cmd_rollout_status_entry,
	&cmd_rollout_pause_entry,
	&cmd_rollout_resume_entry,
	&cmd_rollout_abort_entry,
	&cmd_rollout_list_entry,
	&cmd_token_add_entry,
	&cmd_token_list_entry,
	&cmd_token_remove_entry,
	&cmd_repo_add_entry,
	&cmd_repo_list_entry,
	&cmd_repo_show_entry,
	&cmd_import_entry,
	&cmd_export_entry,
	&cmd_check_entry,
	&cmd_backup_entry,
	&cmd_status_entry,
};
/* clang-format on */

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void help(FILE *fp)
{
	size_t i;

	fprintf(fp,
		"usage: luaotactl [-c CONFIG] [-D DATABASE] [-w MS] COMMAND "
		"[ARGS]\n"
		"\n"
		"Options:\n"
		"  -c, --config PATH    luaotad's configuration, for its "
		"database and the\n"
		"                       settings that change what chips are "
		"sent (default:\n"
		"                       $LUAOTA_CONF, else " LUAOTAD_CONFIG_FILE
		")\n"
		"  -D, --database PATH  the inventory (default: $LUAOTA_DB, "
		"else the\n"
		"                       configuration's database, "
		"else " LUAOTAD_DATABASE ")\n"
		"  -w, --wait MS        how long to wait for a database "
		"another process locked (default 5000)\n"
		"  -h, --help           this help; COMMAND --help: "
		"its usage\n"
		"  -V, --version        the version\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %s %s\n      %s\n", commands[i]->name,
			commands[i]->usage, commands[i]->summary);
	fprintf(fp, "\n"
		    "Exit status:\n"
		    "  0  success\n"
		    "  1  the command failed (see the message on stderr)\n"
		    "  2  usage error: unknown command or option, missing or "
		    "malformed argument\n");
}

/* Counts the words of a command name ("group add": 2). */
static int name_words(const char *name)
{
	int words = 1;

	for (; *name != '\0'; name++)
		if (*name == ' ')
			words++;
	return words;
}

/* Whether argv starts with the words of name. */
static int name_matches(const char *name, int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		size_t len = strcspn(name, " ");

		if (strlen(argv[i]) != len || strncmp(argv[i], name, len) != 0)
			return 0;
		if (name[len] == '\0')
			return 1;
		name += len + 1;
	}
	return 0;
}

/* Whether word is the first of a longer command name ("group"). */
static int is_command_word(const char *word)
{
	size_t i, len = strlen(word);

	for (i = 0; i < NCOMMANDS; i++)
		if (strncmp(commands[i]->name, word, len) == 0 &&
		    commands[i]->name[len] == ' ')
			return 1;
	return 0;
}

/* The command argv names; *words says how many arguments its name took. */
static const struct ctl_cmd *find_command(int argc, char **argv, int *words)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++) {
		if (name_matches(commands[i]->name, argc, argv)) {
			*words = name_words(commands[i]->name);
			return commands[i];
		}
	}
	return NULL;
}

/*
 * Parses one command's options into args.  argv[0] is the last word of
 * the command's name; getopt_long permutes, so options may follow
 * positional arguments.
 */
static int parse_command(struct ctl *ctl, int argc, char **argv,
			 struct ctl_args *args)
{
	const struct ctl_cmd *cmd = ctl->cmd;
	char optstring[64];
	int c;

	snprintf(optstring, sizeof(optstring), ":%s", cmd->optstring);
	optind = 0; /* a full reset: a second getopt_long run */
	opterr = 0;
	memset(args, 0, sizeof(*args));
	while ((c = getopt_long(argc, argv, optstring, cmd->options, NULL)) !=
	       -1) {
		switch (c) {
		case 'h':
			printf("usage: luaotactl [-c CONFIG] [-D DATABASE] %s "
			       "%s\n  %s\n",
			       cmd->name, cmd->usage, cmd->summary);
			exit(CTL_EXIT_OK);
		case '?':
			if (optopt != 0)
				return ctl_usage_error(
				    ctl, "unknown option -%c", optopt);
			return ctl_usage_error(ctl, "unknown option %s",
					       argv[optind - 1]);
		case ':':
			return ctl_usage_error(ctl, "option %s needs a value",
					       argv[optind - 1]);
		default:
			if (args->noptions == CTL_MAX_OPTIONS)
				return ctl_usage_error(ctl, "too many options");
			args->options[args->noptions].key = c;
			args->options[args->noptions].value = optarg;
			args->noptions++;
		}
	}
	args->argc = argc - optind;
	args->argv = argv + optind;
	if (args->argc < cmd->min_args ||
	    (cmd->max_args >= 0 && args->argc > cmd->max_args))
		return ctl_usage_error(ctl, "wrong number of arguments (%d)",
				       args->argc);
	return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option global_options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "database", required_argument, NULL, 'D' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl = {
		.db_path = getenv("LUAOTA_DB"),
		.conf_path = getenv("LUAOTA_CONF"),
		.busy_ms = -1,
	};
	int64_t wait_ms;
	struct ctl_args args;
	int c, words, rc;

	/* The inventory holds the chips' secrets: files we create are ours
	 * alone (SQLite gives -wal and -shm the database's mode). */
	umask(077);
	opterr = 0;
	/* "+": stop at the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+:c:D:w:hV", global_options,
				NULL)) != -1) {
		switch (c) {
		case 'c':
			ctl.conf_path = optarg;
			break;
		case 'D':
			ctl.db_path = optarg;
			break;
		case 'w':
			if (ctl_parse_int(optarg, 0, 3600000, &wait_ms) != 0) {
				ctl_error("bad --wait '%s' (milliseconds)",
					  optarg);
				return CTL_EXIT_USAGE;
			}
			ctl.busy_ms = (int)wait_ms;
			break;
		case 'h':
			help(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("luaotactl %s\n", LUAOTA_VERSION);
			return CTL_EXIT_OK;
		case ':':
			ctl_error("option %s needs a value", argv[optind - 1]);
			return CTL_EXIT_USAGE;
		default:
			ctl_error("unknown option %s", argv[optind - 1]);
			fprintf(stderr, "Run 'luaotactl --help' for usage.\n");
			return CTL_EXIT_USAGE;
		}
	}
	if (ctl.db_path != NULL && ctl.db_path[0] == '\0')
		ctl.db_path = NULL;
	ctl.conf_explicit = ctl.conf_path != NULL && ctl.conf_path[0] != '\0';
	if (!ctl.conf_explicit)
		ctl.conf_path = LUAOTAD_CONFIG_FILE;
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		help(stderr);
		return CTL_EXIT_USAGE;
	}
	ctl.cmd = find_command(argc, argv, &words);
	if (ctl.cmd == NULL) {
		if (argc > 1 && is_command_word(argv[0]))
			ctl_error("unknown command: %s %s", argv[0], argv[1]);
		else
			ctl_error("unknown command: %s", argv[0]);
		fprintf(stderr, "Run 'luaotactl --help' for the commands.\n");
		return CTL_EXIT_USAGE;
	}
	argc -= words - 1;
	argv += words - 1;
	if ((rc = parse_command(&ctl, argc, argv, &args)) != CTL_EXIT_OK)
		return rc;
	rc = ctl.cmd->handler(&ctl, &args);
	if (ctl.conf_state != 0)
		config_free(&ctl.conf);
	return rc;
}
