/*
 * luaota-device: boots a simulated NodeMCU chip whose flash is a
 * directory, against a luaOTA server, once or until its application
 * starts.  Exit status: see docs/luaota-device.1 and enum exit_code.
 */
#define LIBBSD_OPENBSD_VIS /* we use strvis() only; silences a warning */
#include <bsd/vis.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "luaota.h"
#include "posix/compile_lua.h"
#include "posix/port.h"
#include "v2.h"

enum exit_code {
	EXIT_CURRENT = 0,    /* the server said no update: app started */
	EXIT_ERROR = 1,	     /* a session failed, or the flash did */
	EXIT_USAGE = 2,	     /* bad command line */
	EXIT_NO_SESSION = 3, /* unreachable, no reply, or rejected reply */
	EXIT_ABANDONED = 4,  /* session timed out or was closed midway */
	EXIT_REBOOT = 10     /* the last boot wrote a new config: rebooting */
};

#define DEFAULT_CHIP_ID "11223344"
#define V2_FREE_BYTES (3u << 20) /* free flash a simulated v2 chip reports */

struct options {
	const char *flash;
	const char *chip_id;
	char server[256];
	char port[8];
	const char *secret;
	long boots;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: luaota-device --flash DIR [--chip-id ID] "
		     "[--server HOST:PORT]\n"
		     "                     [--secret SECRET] [--boots N]\n");
}

/* Splits HOST:PORT or [V6]:PORT; a bare HOST keeps the config's port. */
static int parse_server(const char *arg, struct options *o)
{
	const char *colon, *host = arg;
	size_t host_len;
	char *end;
	long port;

	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		host = arg + 1;
		host_len = (size_t)(close - host);
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strrchr(arg, ':');
		host_len = colon != NULL ? (size_t)(colon - arg) : strlen(arg);
	}
	if (host_len == 0 || host_len >= sizeof(o->server))
		return -1;
	memcpy(o->server, host, host_len);
	o->server[host_len] = '\0';
	if (colon == NULL)
		return 0;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 1 ||
	    port > 65535)
		return -1;
	snprintf(o->port, sizeof(o->port), "%ld", port);
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "flash", required_argument, NULL, 'f' },
		{ "chip-id", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 's' },
		{ "secret", required_argument, NULL, 'k' },
		{ "boots", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->chip_id = DEFAULT_CHIP_ID;
	o->boots = 1;
	while ((c = getopt_long(argc, argv, "f:i:s:k:b:hV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'f':
			o->flash = optarg;
			break;
		case 'i':
			o->chip_id = optarg;
			break;
		case 's':
			if (parse_server(optarg, o) != 0) {
				fprintf(stderr, "luaota-device: bad --server: "
						"want HOST:PORT\n");
				return -1;
			}
			break;
		case 'k':
			o->secret = optarg;
			break;
		case 'b':
			errno = 0;
			o->boots = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || o->boots < 1 ||
			    o->boots > 1000) {
				fprintf(stderr, "luaota-device: bad --boots: "
						"want 1 to 1000\n");
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_CURRENT);
		case 'V':
			printf("luaota-device 0.1.0 (%s)\n",
			       luaota_lua_version());
			exit(EXIT_CURRENT);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc || o->flash == NULL || o->chip_id[0] == '\0') {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Bytes from the server, made safe to print: vis(3) encoding, capped. */
static const char *safe(char out[4 * 200 + 1], const char *s)
{
	char cut[201];

	snprintf(cut, sizeof(cut), "%s", s);
	strvis(out, cut, VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL);
	return out;
}

/* Prints one line per step of the boot. */
static void print_step(void *ctx, const struct luaota_step *step)
{
	static char action[4 * 200 + 1], name[4 * 200 + 1], text[4 * 200 + 1];
	const struct luaota_tcp *tcp = ctx;
	struct luaota_step safe_step = *step, *s = &safe_step;

	s->action = safe(action, step->action);
	s->name = safe(name, step->name);
	s->text = safe(text, step->text);
	switch (s->kind) {
	case LUAOTA_STEP_CONFIG:
		printf("config %s: %s\n", s->name, s->text);
		break;
	case LUAOTA_STEP_CONNECT:
		printf(strchr(s->text, ':') != NULL ? "connect [%s]:%u\n"
						    : "connect %s:%u\n",
		       s->text, (unsigned)s->number);
		break;
	case LUAOTA_STEP_HI:
		printf("hi id=%s sent to %s (%u bytes)\n", s->text, tcp->peer,
		       (unsigned)s->number);
		break;
	case LUAOTA_STEP_COMMAND:
		printf("%s%s%s: %s", s->action, s->name[0] ? " " : "", s->name,
		       s->text);
		if (s->number > 0)
			printf(" (%u bytes)", (unsigned)s->number);
		printf("\n");
		break;
	case LUAOTA_STEP_END:
		printf("end: %s\n", s->text);
		break;
	}
}

static enum exit_code exit_for(enum luaota_outcome outcome)
{
	switch (outcome) {
	case LUAOTA_APP_CURRENT:
		return EXIT_CURRENT;
	case LUAOTA_APP_NOREPLY:
	case LUAOTA_APP_REJECTED:
		return EXIT_NO_SESSION;
	case LUAOTA_APP_TIMEOUT:
	case LUAOTA_APP_CLOSED:
	case LUAOTA_APP_REFUSED:
		return EXIT_ABANDONED;
	case LUAOTA_REBOOT:
		return EXIT_REBOOT;
	}
	return EXIT_ERROR;
}

int main(int argc, char **argv)
{
	static struct luaota_device dev;     /* working memory of each boot */
	static struct luaota_v2_device dev2; /* ... of each v2 boot */
	struct luaota_v2_boot_args args2;
	int v2;
	struct luaota_override ov[3];
	struct luaota_boot_args args;
	struct luaota_boot_result result;
	struct luaota_posix posix;
	struct options o;
	enum luaota_err err;
	size_t n = 0;
	long boot;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(argc, argv, &o) != 0)
		return EXIT_USAGE;
	if (o.server[0] != '\0')
		ov[n++] = (struct luaota_override){ "server", o.server,
						    LUAOTA_VALUE_STRING };
	if (o.port[0] != '\0')
		ov[n++] = (struct luaota_override){ "port", o.port,
						    LUAOTA_VALUE_NUMBER };
	if (o.secret != NULL)
		ov[n++] = (struct luaota_override){ "secret", o.secret,
						    LUAOTA_VALUE_STRING };
	args.chip_id = o.chip_id;
	args.overrides = ov;
	args.n_overrides = n;
	/* A chip fresh from the factory has an empty flash. */
	if (mkdir(o.flash, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "luaota-device: %s: %s\n", o.flash,
			strerror(errno));
		return EXIT_ERROR;
	}
	if (luaota_posix_open(&posix, o.flash) != 0) {
		fprintf(stderr, "luaota-device: %s: %s\n", o.flash,
			strerror(errno));
		return EXIT_ERROR;
	}
	posix.port.on_step = print_step;
	posix.port.step_ctx = &posix.tcp;
	/* A config with a v2 "key" speaks protocol v2 (docs/protocol.md). */
	v2 = luaota_v2_configured(&posix.port.flash);
	args2.chip_id = o.chip_id;
	args2.lua_version = strchr(luaota_lua_version(), ' ') != NULL
				? strchr(luaota_lua_version(), ' ') + 1
				: luaota_lua_version();
	args2.free_bytes = V2_FREE_BYTES;
	for (boot = 1;; boot++) {
		printf("boot %ld%s\n", boot, v2 ? " v2" : "");
		args2.overrides = args.overrides;
		args2.n_overrides = args.n_overrides;
		err = v2 ? luaota_v2_boot(&dev2, &posix.port, &args2, &result)
			 : luaota_boot(&dev, &posix.port, &args, &result);
		if (err != LUAOTA_OK) {
			fprintf(stderr, "luaota-device: boot %ld: %s\n", boot,
				luaota_strerror(err));
			luaota_posix_close(&posix);
			return EXIT_ERROR;
		}
		if (result.outcome != LUAOTA_REBOOT) {
			printf("start %s.%s\n", result.app, result.entry);
			break;
		}
		printf("reboot\n");
		if (boot >= o.boots)
			break;
		/* Overrides are typed once at the console: a reboot runs on
		 * the config the server wrote. */
		args.n_overrides = 0;
	}
	luaota_posix_close(&posix);
	return exit_for(result.outcome);
}
