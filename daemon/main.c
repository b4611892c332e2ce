/*
 * luaotad: the provisioning daemon.  A new-style daemon: never forks,
 * tells systemd when it is ready, drains on SIGTERM, reloads on SIGHUP.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "checkins.h"
#include "conf/config.h"
#include "daemon.h"
#include "db/store.h"
#include "decisions.h"
#include "http.h"
#include "instance.h"
#include "listener.h"
#include "log.h"
#include "plan/plan.h"
#include "ratelimit.h"
#include "rejects.h"
#include "rollouts.h"
#include "session.h"

/* Pushes the live counters to systemd (cheap when not under systemd). */
static void notify_status(struct daemon *d)
{
	const struct daemon_stats *st = &d->stats;

	sd_notifyf(
	    0,
	    "STATUS=sessions=%llu checkins=%llu current=%llu "
	    "updates=%llu failures=%llu rejected=%llu refused=%llu "
	    "history_queued=%zu",
	    (unsigned long long)st->open, (unsigned long long)st->checkins,
	    (unsigned long long)st->current, (unsigned long long)st->updates,
	    (unsigned long long)st->failures, (unsigned long long)st->rejected,
	    (unsigned long long)st->refused,
	    d->history_queued + d->history_unqueued);
}

/* A session ended: finishes a drain once the last one is gone. */
static void session_gone(struct daemon *d)
{
	if (d->draining && TAILQ_EMPTY(&d->sessions))
		event_base_loopexit(d->base, NULL);
}

static void on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	if (d->draining) {
		log_info("event=stop signal=%d sessions=%llu (second signal)",
			 (int)sig, (unsigned long long)d->stats.open);
		event_base_loopexit(d->base, NULL);
		return;
	}
	d->draining = 1;
	sd_notify(0, "STOPPING=1");
	log_info("event=draining sessions=%llu",
		 (unsigned long long)d->stats.open);
	listener_disable(d);
	session_gone(d);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct config fresh;

	(void)sig;
	(void)what;
	/* MONOTONIC_USEC lets a Type=notify-reload manager match the reply. */
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)daemon_now_ms() * 1000);
	config_defaults(&fresh);
	if (config_load(&fresh, d->conf_path, d->conf_missing_ok,
			log_warnx_line) != 0) {
		log_warnx("event=reload-failed file=%s: keeping the running "
			  "configuration",
			  d->conf_path);
		config_free(&fresh);
	} else {
		/* Listeners and the database stay: they need a restart. */
		while (fresh.nlisten > 0)
			free(fresh.listen[--fresh.nlisten]);
		memcpy(fresh.listen, d->conf.listen, sizeof(fresh.listen));
		fresh.nlisten = d->conf.nlisten;
		d->conf.nlisten = 0;
		free(fresh.database);
		fresh.database = d->conf.database;
		d->conf.database = NULL;
		free(fresh.http_listen);
		fresh.http_listen = d->conf.http_listen;
		d->conf.http_listen = NULL;
		config_free(&d->conf);
		d->conf = fresh;
		if (d->verbose)
			d->conf.log_level = CONFIG_LOG_DEBUG;
		log_set_level((enum log_level)d->conf.log_level);
		store_set_busy_timeout(d->store, (int)d->conf.busy_timeout_ms);
		/* Decisions depend on max_file_size: made afresh. */
		decisions_clear(d->decisions);
		log_info("event=reloaded file=%s", d->conf_path);
	}
	sd_notify(0, "READY=1");
}

static void on_status_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	notify_status(arg);
	rollouts_review(arg);
	ratelimit_report(daemon_now_ms());
	rejects_flush(arg, 0);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

static void usage(void)
{
	fprintf(stderr, "usage: luaotad [-d] [-n] [-v] [-f FILE] [-D DATABASE] "
			"[-l ADDRESS:PORT]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct daemon d = { 0 };
	const char *db_path = NULL, *env, *why;
	char why_text[512];
	pid_t holder;
	char *spool, shown[512], host[256], owner[768];
	const char *lock_path;
	int foreground = 0, check_only = 0, ch, nlisten = 0;
	int interrupted = 0, rc = 0;
	uint64_t watchdog_usec = 0;
	struct event *sigterm, *sigint, *sighup, *status_timer;
	struct event *watchdog = NULL;
	struct timeval second = { 1, 0 };

	d.conf_path = LUAOTAD_CONFIG_FILE;
	/* STATUS= goes out from a timer: no status_changed hook. */
	d.session_gone = session_gone;
	d.conf_missing_ok = 1;
	d.http_inherited_fd = -1;
	config_defaults(&d.conf);
	log_init(0, LOG_LEVEL_INFO);
	while ((ch = getopt(argc, argv, "dnvf:D:l:h")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'v':
			d.verbose = 1;
			break;
		case 'f':
			d.conf_path = optarg;
			d.conf_missing_ok = 0;
			break;
		case 'D':
			db_path = optarg;
			break;
		case 'l':
			if (config_add_listen(&d.conf, optarg, nlisten++ == 0,
					      &why) != 0)
				fatalx("-l %s: %s", optarg, why);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* -n reports like a compiler: file:line: message, nothing else. */
	log_set_plain(check_only);
	if (nlisten > 0) {
		/* -l replaces the configured addresses: load, then re-apply. */
		struct config cli = d.conf;
		int i;

		config_defaults(&d.conf);
		if (config_load(&d.conf, d.conf_path, d.conf_missing_ok,
				log_warnx_line) != 0)
			fatalx("%s: configuration has errors", d.conf_path);
		for (i = 0; i < cli.nlisten; i++)
			config_add_listen(&d.conf, cli.listen[i], i == 0, &why);
		config_free(&cli);
	} else if (config_load(&d.conf, d.conf_path, d.conf_missing_ok,
			       log_warnx_line) != 0) {
		fatalx("%s: configuration has errors", d.conf_path);
	}
	if (check_only) {
		printf("configuration OK\n");
		config_free(&d.conf);
		return 0;
	}
	if (db_path == NULL && (env = getenv("LUAOTA_DB")) != NULL && *env)
		db_path = env;
	if (db_path != NULL) {
		free(d.conf.database);
		d.conf.database = strdup(db_path);
	}
	if (d.verbose)
		d.conf.log_level = CONFIG_LOG_DEBUG;
	log_init(!foreground && log_stderr_is_journal(),
		 (enum log_level)d.conf.log_level);

	store_path_redact(d.conf.database, shown, sizeof(shown));
	/* The spool: beside an SQLite file, or where luaotad.conf says. */
	if (d.conf.spool != NULL)
		spool = strdup(d.conf.spool);
	else if (store_path_is_pg(d.conf.database))
		spool = strdup(LUAOTAD_PG_SPOOL);
	else if (asprintf(&spool, "%s.spool", d.conf.database) < 0)
		spool = NULL;
	if (spool == NULL)
		fatalx("out of memory");
	/*
	 * Before anything else touches the inventory or its spool: one
	 * luaotad per SQLite file, and per spool (several may share one
	 * PostgreSQL inventory, each with its own spool).
	 */
	lock_path = store_path_is_pg(d.conf.database) ? spool : d.conf.database;
	if (instance_lock(lock_path, &holder, why_text, sizeof(why_text)) !=
	    0) {
		if (holder != 0)
			fatalx("%s: another luaotad (pid %ld) serves this %s; "
			       "stop it first",
			       lock_path, (long)holder,
			       lock_path == spool ? "spool" : "database");
		fatalx("%s: cannot take the instance lock: %s", lock_path,
		       why_text);
	}
	d.store = store_open(d.conf.database, STORE_CREATE);
	if (d.store == NULL)
		fatalx("%s: cannot open the database: %s", shown,
		       store_errmsg(NULL));
	if (store_errmsg(d.store)[0] != '\0' &&
	    store_schema_version(d.store) <= 0)
		fatalx("%s: %s", shown, store_errmsg(d.store));
	/* A damaged inventory is refused, never repaired behind the back. */
	if (store_check(d.store) != 0)
		fatalx("%s: refusing a damaged database (%s); restore it "
		       "from a backup",
		       shown, store_errmsg(d.store));
	store_set_busy_timeout(d.store, (int)d.conf.busy_timeout_ms);
	/* Its rows are told from other daemons' on a shared inventory. */
	if (gethostname(host, sizeof(host)) != 0)
		strlcpy(host, "?", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if (snprintf(owner, sizeof(owner), "%s:%s", host, spool) >=
		(int)sizeof(owner) ||
	    store_set_owner(d.store, owner) != 0)
		fatalx("%s: cannot name this daemon: %s", shown,
		       store_errmsg(d.store));
	/* Rows a crash left open: say so rather than leave them "started". */
	if (store_sessions_interrupt(d.store, daemon_wall_ms(), &interrupted) !=
	    0)
		fatalx("%s: %s", shown, store_errmsg(d.store));
	if (interrupted > 0)
		log_warnx("event=interrupted-sessions count=%d", interrupted);
	if ((d.cache = plan_cache_new()) == NULL ||
	    (d.decisions = decisions_new()) == NULL ||
	    (d.rollouts = rollouts_new()) == NULL)
		fatalx("out of memory");

	signal(SIGPIPE, SIG_IGN);
	TAILQ_INIT(&d.sessions);
	if ((d.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	if ((d.checkins = checkins_new(&d)) == NULL || history_init(&d) != 0 ||
	    (d.rejects = rejects_new()) == NULL)
		fatalx("out of memory");
	/* Rows a killed daemon could not write are written now. */
	history_spool_open(&d, spool);
	free(spool);
	if (listener_open(&d) != 0)
		fatalx("no listener could be opened");
	if (http_open(&d, d.http_inherited_fd) != 0)
		fatalx("the HTTP listener could not be opened");
	sigterm = evsignal_new(d.base, SIGTERM, on_sigterm, &d);
	sigint = evsignal_new(d.base, SIGINT, on_sigterm, &d);
	sighup = evsignal_new(d.base, SIGHUP, on_sighup, &d);
	status_timer = event_new(d.base, -1, EV_PERSIST, on_status_timer, &d);
	if (!sigterm || !sigint || !sighup || !status_timer)
		fatalx("cannot set up signal handling");
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);
	evtimer_add(status_timer, &second);
	if (sd_watchdog_enabled(0, &watchdog_usec) > 0) {
		struct timeval half = {
			.tv_sec = (time_t)(watchdog_usec / 2000000),
			.tv_usec = (suseconds_t)(watchdog_usec / 2 % 1000000),
		};

		watchdog = event_new(d.base, -1, EV_PERSIST, on_watchdog, &d);
		if (watchdog != NULL)
			evtimer_add(watchdog, &half);
	}
	log_info("event=ready database=%s version=%s", shown, LUAOTAD_VERSION);
	sd_notify(0, "READY=1");
	notify_status(&d);

	if (event_base_dispatch(d.base) < 0)
		rc = 1;

	http_close(&d);
	session_close_all(&d, "shutdown");
	checkins_free(d.checkins);
	rejects_free(&d);
	history_shutdown(&d);
	ratelimit_reset();
	notify_status(&d);
	log_info("event=stopped checkins=%llu updates=%llu",
		 (unsigned long long)d.stats.checkins,
		 (unsigned long long)d.stats.updates);
	listener_close(&d);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_free(status_timer);
	if (watchdog != NULL)
		event_free(watchdog);
	event_base_free(d.base);
	decisions_free(d.decisions);
	rollouts_free(d.rollouts);
	plan_cache_free(d.cache);
	store_close(d.store);
	config_free(&d.conf);
	return rc;
}
