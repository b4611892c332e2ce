/* The history spool: see spool.h. */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "history.h"
#include "log.h"

/* Format of a line; a line of another version is not replayed. */
#define SPOOL_VERSION 1

struct spool {
	int fd; /* O_APPEND */
	char *path;
	off_t size;	    /* bytes of whole lines */
	int dirty;	    /* written since the last fdatasync */
	struct event *sync; /* active while dirty */
};

/*
 * fdatasync once per pass of the loop, not once per record: a kill
 * cannot lose what write() handed to the kernel, only a power cut can,
 * and a batch of 256 check-ins must not wait for 256 disk flushes.
 */
static void on_sync(evutil_socket_t fd, short what, void *arg)
{
	struct spool *sp = arg;

	(void)fd;
	(void)what;
	if (sp->dirty && fdatasync(sp->fd) != 0)
		log_warn("event=spool-sync-failed file=%s", sp->path);
	sp->dirty = 0;
}

struct spool *spool_open(struct event_base *base, const char *path)
{
	struct spool *sp = calloc(1, sizeof(*sp));
	struct stat st;
	int saved;

	if (sp == NULL)
		return NULL;
	sp->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (sp->fd < 0 || fstat(sp->fd, &st) != 0 ||
	    (sp->path = strdup(path)) == NULL ||
	    (sp->sync = event_new(base, -1, 0, on_sync, sp)) == NULL)
		goto fail;
	sp->size = st.st_size;
	return sp;
fail:
	saved = errno;
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp->path);
	free(sp);
	errno = saved;
	return NULL;
}

void spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	on_sync(-1, 0, sp);
	event_free(sp->sync);
	close(sp->fd);
	free(sp->path);
	free(sp);
}

const char *spool_path(const struct spool *sp)
{
	return sp->path;
}

int spool_append(struct spool *sp, const struct history_record *rec)
{
	char *line = spool_encode(rec);
	size_t len;
	ssize_t n;
	int saved;

	if (line == NULL) {
		errno = ENOMEM;
		return -1;
	}
	len = strlen(line);
	line[len++] = '\n'; /* spool_encode leaves room for it */
	/* One write(): a line is whole, or torn only by a crash mid-call. */
	n = write(sp->fd, line, len);
	saved = errno;
	free(line);
	if (n == (ssize_t)len) {
		sp->size += (off_t)len;
		sp->dirty = 1;
		if (!event_pending(sp->sync, EV_TIMEOUT, NULL))
			event_active(sp->sync, EV_TIMEOUT, 0);
		return 0;
	}
	/* A short write (disk full): cut the piece off again. */
	if (n > 0 && ftruncate(sp->fd, sp->size) != 0)
		log_warn("event=spool-truncate-failed file=%s", sp->path);
	errno = n < 0 ? saved : ENOSPC;
	return -1;
}

int spool_empty(const struct spool *sp)
{
	return sp->size == 0;
}

int64_t spool_size(const struct spool *sp)
{
	return (int64_t)sp->size;
}

int spool_truncate(struct spool *sp)
{
	if (ftruncate(sp->fd, 0) != 0)
		return -1;
	sp->size = 0;
	sp->dirty = 1;
	if (!event_pending(sp->sync, EV_TIMEOUT, NULL))
		event_active(sp->sync, EV_TIMEOUT, 0);
	return 0;
}

long spool_read(struct spool *sp, off_t *offset, size_t max,
		int (*fn)(struct history_record *rec, off_t at, void *arg),
		void *arg, int *eof)
{
	FILE *fp = fopen(sp->path, "re");
	struct history_record *rec;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len = 0;
	long count = 0;
	int stopped = 0;

	*eof = 0;
	if (fp == NULL)
		return -1;
	if (fseeko(fp, *offset, SEEK_SET) != 0) {
		fclose(fp);
		return -1;
	}
	while ((size_t)count < max && (len = getline(&line, &cap, fp)) > 0) {
		if (line[len - 1] != '\n') {
			/* A crash inside write() leaves a torn last line. */
			log_warnx(
			    "event=spool-line-skipped file=%s offset=%lld "
			    "reason=\"torn last line\"",
			    sp->path, (long long)*offset);
			continue;
		}
		if ((rec = spool_decode(line, (size_t)len - 1)) == NULL) {
			log_warnx(
			    "event=spool-line-skipped file=%s offset=%lld "
			    "reason=\"not a history record\"",
			    sp->path, (long long)*offset);
			*offset += (off_t)len;
			continue;
		}
		if (fn(rec, *offset, arg) != 0) {
			stopped = 1;
			break;
		}
		*offset += (off_t)len;
		count++;
	}
	*eof = !stopped && (size_t)count < max;
	free(line);
	fclose(fp);
	return count;
}

/* spool_replay's callback, and what it calls. */
struct replay {
	void (*fn)(struct history_record *rec, void *arg);
	void *arg;
};

static int replay_one(struct history_record *rec, off_t at, void *arg)
{
	struct replay *r = arg;

	(void)at;
	r->fn(rec, r->arg);
	return 0;
}

long spool_replay(struct spool *sp,
		  void (*fn)(struct history_record *rec, void *arg), void *arg)
{
	struct replay r = { fn, arg };
	struct stat st;
	off_t whole = 0; /* bytes of whole lines */
	long count;
	int eof;

	count = spool_read(sp, &whole, SIZE_MAX, replay_one, &r, &eof);
	if (count < 0 || fstat(sp->fd, &st) != 0)
		return -1;
	/* Cut a torn tail off: the next line appended must start a line. */
	if (whole < st.st_size && ftruncate(sp->fd, whole) == 0)
		st.st_size = whole;
	sp->size = st.st_size;
	return count;
}

/* Adds key: string, or null for NULL. */
static void add_string(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key,
			       v != NULL ? json_object_new_string(v) : NULL);
}

static void add_int(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

char *spool_encode(const struct history_record *rec)
{
	struct json_object *o = json_object_new_object(), *files, *f;
	const char *text;
	char *line = NULL;
	size_t i, len;

	if (o == NULL)
		return NULL;
	add_int(o, "v", SPOOL_VERSION);
	add_int(o, "id", rec->id);
	add_string(o, "chip", rec->chip_id);
	add_string(o, "peer", rec->peer);
	add_int(o, "start", rec->started_ms);
	add_int(o, "end", rec->ended_ms);
	add_string(o, "outcome", store_outcome_name(rec->outcome));
	add_string(o, "reason", rec->reason);
	add_string(o, "rev", rec->revision);
	add_int(o, "files_sent", rec->files_sent);
	add_int(o, "bytes_sent", rec->bytes_sent);
	add_string(o, "seen", rec->seen_addr);
	add_int(o, "seen_s", rec->seen_s);
	if ((files = json_object_new_array()) == NULL)
		goto done;
	json_object_object_add(o, "files", files);
	for (i = 0; i < rec->nfiles; i++) {
		if ((f = json_object_new_object()) == NULL ||
		    json_object_array_add(files, f) != 0) {
			json_object_put(f);
			goto done;
		}
		add_string(f, "n", rec->files[i].name);
		add_string(f, "a", rec->files[i].action);
		add_int(f, "b", rec->files[i].bytes);
		add_string(f, "r", rec->files[i].result);
		add_int(f, "lc", rec->files[i].lcsize);
	}
	/* Plain: json-c escapes control characters, so no newline inside. */
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (text == NULL)
		goto done;
	len = strlen(text);
	if ((line = malloc(len + 2)) != NULL)
		memcpy(line, text, len + 1);
done:
	json_object_put(o);
	return line;
}

/* A string member (NULL when null or absent); -1 when of another type. */
static int get_string(struct json_object *o, const char *key, char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*out = strdup(json_object_get_string(v));
	return *out != NULL ? 0 : -1;
}

/* An integer member; -1 when absent or of another type. */
static int get_int(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

static int get_outcome(struct json_object *o, enum store_outcome *out)
{
	struct json_object *v;
	const char *name;
	int i;

	if (!json_object_object_get_ex(o, "outcome", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	name = json_object_get_string(v);
	for (i = STORE_OUTCOME_STARTED; i <= STORE_OUTCOME_INTERRUPTED; i++) {
		if (strcmp(name, store_outcome_name((enum store_outcome)i)) ==
		    0) {
			*out = (enum store_outcome)i;
			return 0;
		}
	}
	return -1;
}

static int get_files(struct json_object *o, struct history_record *rec)
{
	struct json_object *arr, *f;
	struct store_session_file row;
	size_t i, n;
	int rc;

	if (!json_object_object_get_ex(o, "files", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return -1;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		f = json_object_array_get_idx(arr, i);
		memset(&row, 0, sizeof(row));
		if (!json_object_is_type(f, json_type_object) ||
		    get_string(f, "n", &row.name) != 0 ||
		    get_string(f, "a", &row.action) != 0 ||
		    get_string(f, "r", &row.result) != 0 ||
		    get_int(f, "b", &row.bytes) != 0 ||
		    get_int(f, "lc", &row.lcsize) != 0)
			rc = -1;
		else
			rc = history_add_file(rec, &row);
		free(row.name);
		free(row.action);
		free(row.result);
		if (rc != 0)
			return -1;
	}
	return 0;
}

struct history_record *spool_decode(const char *line, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o = NULL;
	struct history_record *rec = NULL;
	int64_t version;

	if (len > INT32_MAX || (tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o == NULL || json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object) ||
	    get_int(o, "v", &version) != 0 || version != SPOOL_VERSION ||
	    (rec = calloc(1, sizeof(*rec))) == NULL)
		goto fail;
	if (get_int(o, "id", &rec->id) != 0 ||
	    get_string(o, "chip", &rec->chip_id) != 0 ||
	    get_string(o, "peer", &rec->peer) != 0 || rec->peer == NULL ||
	    get_int(o, "start", &rec->started_ms) != 0 ||
	    get_int(o, "end", &rec->ended_ms) != 0 ||
	    get_outcome(o, &rec->outcome) != 0 ||
	    get_string(o, "reason", &rec->reason) != 0 ||
	    get_string(o, "rev", &rec->revision) != 0 ||
	    get_int(o, "files_sent", &rec->files_sent) != 0 ||
	    get_int(o, "bytes_sent", &rec->bytes_sent) != 0 ||
	    get_string(o, "seen", &rec->seen_addr) != 0 ||
	    get_int(o, "seen_s", &rec->seen_s) != 0 || get_files(o, rec) != 0)
		goto fail;
	json_object_put(o);
	json_tokener_free(tok);
	return rec;
fail:
	history_record_free(rec);
	json_object_put(o);
	json_tokener_free(tok);
	return NULL;
}
