/*
 * SAFETRIM with a Lua lexer just deep enough to know what is code, what is
 * a comment and what is a string: see safetrim.h for the contract.
 *
 * Blanks and comments between two tokens of one line become one space,
 * which can never join the tokens; at the start or end of a line they go.
 * Strings and long strings are copied byte for byte, newlines everywhere.
 * The output is therefore never longer than the input.
 */
#include "safetrim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MARKER "--SAFETRIM"

struct trim {
	const char *s;
	size_t len;
	size_t i; /* next input byte */
	char *out;
	size_t n;      /* output bytes so far */
	int line_used; /* code was emitted on the current output line */
	int gap;       /* blanks or a comment since the last code byte */
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/* Lua counts "\r" as a line break too, so both are kept verbatim. */
static int is_newline(char c)
{
	return c == '\n' || c == '\r';
}

static int is_lua_space(char c)
{
	return is_blank(c) || is_newline(c);
}

int plan_safetrim_wanted(const char *src, size_t len)
{
	size_t i = 0, ml = strlen(MARKER);

	while (i < len) {
		const char *nl = memchr(src + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - src) : len;
		size_t l = end - i;

		if (l > 0 && src[i + l - 1] == '\r')
			l--;
		if (l == ml && memcmp(src + i, MARKER, ml) == 0)
			return 1;
		i = end + 1;
	}
	return 0;
}

/* Level of a long bracket "[" "="* "[" opening at i, or -1 if none. */
static long long_open_level(const struct trim *t, size_t i)
{
	size_t j = i + 1;

	if (i >= t->len || t->s[i] != '[')
		return -1;
	while (j < t->len && t->s[j] == '=')
		j++;
	if (j < t->len && t->s[j] == '[')
		return (long)(j - i - 1);
	return -1;
}

/*
 * Finds the first "]" "="*level "]" at or after from (Lua 5.1 and 5.3 both
 * end a long bracket there, nested openers or not); *end is just past it.
 */
static int long_close(const struct trim *t, size_t from, size_t level,
		      size_t *end)
{
	size_t i, j;

	for (i = from; i < t->len; i++) {
		if (t->s[i] != ']')
			continue;
		for (j = i + 1; j < t->len && t->s[j] == '='; j++)
			;
		if (j - i - 1 == level && j < t->len && t->s[j] == ']') {
			*end = j + 1;
			return 0;
		}
	}
	return -1;
}

static void put(struct trim *t, char c)
{
	t->out[t->n++] = c;
}

/* Before a code byte: one space if something was dropped inside the line. */
static void code_begins(struct trim *t)
{
	if (t->gap && t->line_used)
		put(t, ' ');
	t->gap = 0;
	t->line_used = 1;
}

static void line_break(struct trim *t, char c)
{
	/* "\n" and "\r" with something dropped between must not become one
	 * "\n\r" (a single line break to Lua): a space keeps them apart */
	if (t->gap && t->n > 0 && is_newline(t->out[t->n - 1]) &&
	    t->out[t->n - 1] != c)
		put(t, ' ');
	put(t, c);
	t->gap = 0;
	t->line_used = 0;
}

/* A comment, t->i at its "--": only its line breaks survive. */
static int skip_comment(struct trim *t)
{
	long level = long_open_level(t, t->i + 2);
	size_t end;

	if (level < 0) {
		while (t->i < t->len && !is_newline(t->s[t->i]))
			t->i++;
		t->gap = 1;
		return 0;
	}
	if (long_close(t, t->i + 2 + (size_t)level + 2, (size_t)level, &end) !=
	    0)
		return -1;
	for (; t->i < end; t->i++) {
		if (is_newline(t->s[t->i]))
			line_break(t, t->s[t->i]);
		else
			t->gap = 1;
	}
	t->gap = 1;
	return 0;
}

/* A long string, t->i at its opening bracket: copied whole. */
static int copy_long_string(struct trim *t, long level)
{
	size_t end;

	if (long_close(t, t->i + (size_t)level + 2, (size_t)level, &end) != 0)
		return -1;
	code_begins(t);
	memcpy(t->out + t->n, t->s + t->i, end - t->i);
	t->n += end - t->i;
	t->i = end;
	return 0;
}

/* A short string, t->i at its quote: copied whole, escapes included. */
static int copy_short_string(struct trim *t)
{
	char quote = t->s[t->i], c;

	code_begins(t);
	put(t, t->s[t->i++]);
	for (;;) {
		if (t->i >= t->len)
			return -1;
		c = t->s[t->i];
		if (is_newline(c))
			return -1; /* unfinished string */
		put(t, c);
		t->i++;
		if (c == quote)
			return 0;
		if (c != '\\')
			continue;
		if (t->i >= t->len)
			return -1;
		c = t->s[t->i++];
		put(t, c);
		if (is_newline(c) && t->i < t->len && is_newline(t->s[t->i]) &&
		    t->s[t->i] != c) {
			put(t, t->s[t->i++]); /* "\r\n" or "\n\r": one break */
		} else if (c == 'z') {
			/* 5.3 skips the blanks and breaks after "\z" */
			while (t->i < t->len && is_lua_space(t->s[t->i]))
				put(t, t->s[t->i++]);
		}
	}
}

/* The lexer proper: one pass over the whole source. */
static int trim_source(struct trim *t)
{
	long level;
	char c;

	/* Lua skips a first line starting with '#': keep it untouched. */
	if (t->len > 0 && t->s[0] == '#') {
		while (t->i < t->len && !is_newline(t->s[t->i]))
			put(t, t->s[t->i++]);
		t->line_used = 1;
	}
	while (t->i < t->len) {
		c = t->s[t->i];
		if (is_newline(c)) {
			line_break(t, c);
			t->i++;
		} else if (is_blank(c)) {
			t->gap = 1;
			t->i++;
		} else if (c == '-' && t->i + 1 < t->len &&
			   t->s[t->i + 1] == '-') {
			if (skip_comment(t) != 0)
				return -1;
		} else if (c == '[' &&
			   (level = long_open_level(t, t->i)) >= 0) {
			if (copy_long_string(t, level) != 0)
				return -1;
		} else if (c == '"' || c == '\'') {
			if (copy_short_string(t) != 0)
				return -1;
		} else {
			code_begins(t);
			put(t, c);
			t->i++;
		}
	}
	return 0;
}

int plan_safetrim(const char *src, size_t len, char **out, size_t *out_len)
{
	struct trim t = { .s = src, .len = len };

	*out = NULL;
	*out_len = 0;
	t.out = malloc(len + 1);
	if (t.out == NULL)
		return -1;
	if (!plan_safetrim_wanted(src, len)) {
		if (len > 0)
			memcpy(t.out, src, len);
		t.n = len;
	} else if (memchr(src, '\0', len) != NULL || trim_source(&t) != 0) {
		/*
		 * Lua 5.1 and 5.3 read a NUL byte differently (a separator, an
		 * error): no trimming can be sure to keep such a program.
		 */
		free(t.out);
		errno = EINVAL;
		return -1;
	}
	t.out[t.n] = '\0';
	*out = t.out;
	*out_len = t.n;
	return 0;
}
