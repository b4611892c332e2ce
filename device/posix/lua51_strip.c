/* Stripping a Lua 5.1 chunk: see lua51_strip.h. */
#include "lua51_strip.h"

#include <stdint.h>
#include <string.h>

#define HEADER_LEN 12
#define MAX_DEPTH 200 /* Lua 5.1 itself nests functions less deeply */

/* Constant tags of the 5.1 format. */
enum { TAG_NIL = 0, TAG_BOOLEAN = 1, TAG_NUMBER = 3, TAG_STRING = 4 };

struct reader {
	const unsigned char *p;
	size_t left;
	size_t int_size, size_t_size, instr_size, number_size;
	int (*emit)(void *arg, const void *bytes, size_t n);
	void *arg;
};

/* Consumes n bytes, optionally copying them out; 0, or -1. */
static int take(struct reader *r, size_t n, int copy)
{
	if (n > r->left)
		return -1;
	if (copy && n > 0 && r->emit(r->arg, r->p, n) != 0)
		return -1;
	r->p += n;
	r->left -= n;
	return 0;
}

/* Reads a host-order unsigned integer of the chunk's given size. */
static int read_uint(struct reader *r, size_t size, uint64_t *v)
{
	if (size > r->left)
		return -1;
	if (size == sizeof(uint32_t)) {
		uint32_t x;

		memcpy(&x, r->p, sizeof(x));
		*v = x;
	} else if (size == sizeof(uint64_t)) {
		memcpy(v, r->p, sizeof(*v));
	} else {
		return -1;
	}
	return 0;
}

/* Emits a count of zero, as an int or a size_t of the chunk. */
static int emit_zero(struct reader *r, size_t size)
{
	static const unsigned char zeros[8];

	return r->emit(r->arg, zeros, size);
}

/* A counted vector: reads n, then n items of item_size bytes. */
static int vector(struct reader *r, size_t item_size, int copy)
{
	uint64_t n;

	if (read_uint(r, r->int_size, &n) != 0 ||
	    (item_size > 0 && n > r->left / item_size))
		return -1;
	if (!copy)
		return take(r, r->int_size, 0) == 0 &&
			       take(r, (size_t)n * item_size, 0) == 0
			   ? 0
			   : -1;
	if (take(r, r->int_size, 1) != 0)
		return -1;
	return take(r, (size_t)n * item_size, 1);
}

/* A string: a size_t length (0 for none), then that many bytes. */
static int string(struct reader *r, int copy)
{
	uint64_t n;

	if (read_uint(r, r->size_t_size, &n) != 0 || n > r->left)
		return -1;
	return take(r, r->size_t_size, copy) == 0 &&
		       take(r, (size_t)n, copy) == 0
		   ? 0
		   : -1;
}

static int function(struct reader *r, int depth);

static int constants(struct reader *r, int depth)
{
	uint64_t n, i;

	if (read_uint(r, r->int_size, &n) != 0 || take(r, r->int_size, 1) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		int rc;

		if (r->left < 1)
			return -1;
		switch (r->p[0]) {
		case TAG_NIL:
			rc = take(r, 1, 1);
			break;
		case TAG_BOOLEAN:
			rc = take(r, 2, 1);
			break;
		case TAG_NUMBER:
			rc = take(r, 1 + r->number_size, 1);
			break;
		case TAG_STRING:
			rc = take(r, 1, 1) == 0 ? string(r, 1) : -1;
			break;
		default:
			return -1;
		}
		if (rc != 0)
			return -1;
	}
	/* Nested functions follow the constants. */
	if (read_uint(r, r->int_size, &n) != 0 || take(r, r->int_size, 1) != 0)
		return -1;
	for (i = 0; i < n; i++)
		if (function(r, depth + 1) != 0)
			return -1;
	return 0;
}

/* Skips the debug sections, emitting three empty ones instead. */
static int debug_info(struct reader *r)
{
	uint64_t n, i;

	if (vector(r, r->int_size, 0) != 0) /* line info */
		return -1;
	if (read_uint(r, r->int_size, &n) != 0 || take(r, r->int_size, 0) != 0)
		return -1;
	for (i = 0; i < n; i++) /* locals: name, startpc, endpc */
		if (string(r, 0) != 0 || take(r, 2 * r->int_size, 0) != 0)
			return -1;
	if (read_uint(r, r->int_size, &n) != 0 || take(r, r->int_size, 0) != 0)
		return -1;
	for (i = 0; i < n; i++) /* upvalue names */
		if (string(r, 0) != 0)
			return -1;
	return emit_zero(r, r->int_size) == 0 &&
		       emit_zero(r, r->int_size) == 0 &&
		       emit_zero(r, r->int_size) == 0
		   ? 0
		   : -1;
}

static int function(struct reader *r, int depth)
{
	if (depth > MAX_DEPTH)
		return -1;
	/* The source name goes, as a null string. */
	if (string(r, 0) != 0 || emit_zero(r, r->size_t_size) != 0)
		return -1;
	/* linedefined, lastlinedefined, then nups, numparams, is_vararg,
	 * maxstacksize: kept, they are not debug information. */
	if (take(r, 2 * r->int_size + 4, 1) != 0)
		return -1;
	if (vector(r, r->instr_size, 1) != 0)
		return -1;
	if (constants(r, depth) != 0)
		return -1;
	return debug_info(r);
}

int luaota_lua51_strip(const unsigned char *in, size_t len,
		       int (*emit)(void *arg, const void *bytes, size_t n),
		       void *arg)
{
	static const unsigned char signature[] = {
		0x1b, 'L', 'u', 'a', 0x51, 0
	};
	const uint16_t probe = 1;
	unsigned char little;
	struct reader r;

	memcpy(&little, &probe, 1);
	if (len < HEADER_LEN || memcmp(in, signature, sizeof(signature)) != 0 ||
	    in[6] != little || in[7] != sizeof(int) ||
	    in[8] != sizeof(size_t) || in[9] != 4 || in[10] != sizeof(double))
		return -1;
	r.p = in;
	r.left = len;
	r.int_size = in[7];
	r.size_t_size = in[8];
	r.instr_size = in[9];
	r.number_size = in[10];
	r.emit = emit;
	r.arg = arg;
	if (take(&r, HEADER_LEN, 1) != 0 || function(&r, 0) != 0)
		return -1;
	return r.left == 0 ? 0 : -1;
}
