/* The power-cut flash simulator: see flash_sim.h. */
#include "flash_sim.h"

#include <stdlib.h>
#include <string.h>

static int find(const struct flash_sim *s, const char *name)
{
	int i;

	for (i = 0; i < FLASH_SIM_FILES; i++)
		if (s->files[i].used && strcmp(s->files[i].name, name) == 0)
			return i;
	return -1;
}

static int create(struct flash_sim *s, const char *name)
{
	int i = find(s, name);

	if (strlen(name) > LUAOTA_NAME_MAX)
		return -1;
	if (i >= 0) {
		s->files[i].len = 0;
		return i;
	}
	for (i = 0; i < FLASH_SIM_FILES; i++)
		if (!s->files[i].used) {
			s->files[i].used = 1;
			strcpy(s->files[i].name, name);
			s->files[i].len = 0;
			return i;
		}
	return -1;
}

static int append(struct flash_sim_file *f, const uint8_t *buf, size_t len)
{
	if (f->len + len > f->cap) {
		size_t cap = f->cap ? f->cap : 256;
		uint8_t *p;

		while (cap < f->len + len)
			cap *= 2;
		p = realloc(f->data, cap);
		if (p == NULL)
			return -1;
		f->data = p;
		f->cap = cap;
	}
	if (len > 0)
		memcpy(f->data + f->len, buf, len);
	f->len += len;
	return 0;
}

/* Counts one mutating call: 1 when it proceeds, 0 when power is off, and
 * -1 when this is the call that loses power. */
static int tick(struct flash_sim *s)
{
	if (s->dead)
		return 0;
	if (s->ops++ == s->cut_at) {
		s->dead = 1;
		return -1;
	}
	return 1;
}

static int sim_open(void *ctx, const char *name, enum luaota_open_mode mode)
{
	struct flash_sim *s = ctx;
	int file, h;

	if (mode == LUAOTA_OPEN_READ) {
		if (s->dead)
			return -1;
		file = find(s, name);
	} else {
		if (tick(s) != 1)
			return -1;
		file = find(s, name);
		if (mode == LUAOTA_OPEN_WRITE || file < 0)
			file = create(s, name);
	}
	if (file < 0)
		return -1;
	for (h = 0; h < FLASH_SIM_HANDLES; h++)
		if (s->handle_file[h] < 0) {
			s->handle_file[h] = file;
			return h;
		}
	return -1;
}

static long sim_read(void *ctx, int h, uint32_t off, uint8_t *buf, size_t len)
{
	struct flash_sim *s = ctx;
	const struct flash_sim_file *f;

	if (s->dead || h < 0 || h >= FLASH_SIM_HANDLES || s->handle_file[h] < 0)
		return -1;
	f = &s->files[s->handle_file[h]];
	if (off >= f->len)
		return 0;
	if (len > f->len - off)
		len = f->len - off;
	memcpy(buf, f->data + off, len);
	return (long)len;
}

static int sim_write(void *ctx, int h, const uint8_t *buf, size_t len)
{
	struct flash_sim *s = ctx;
	int t;

	if (h < 0 || h >= FLASH_SIM_HANDLES || s->handle_file[h] < 0)
		return -1;
	t = tick(s);
	if (t == 0)
		return -1;
	if (t < 0) {
		/* Torn: the first half reached the flash. */
		append(&s->files[s->handle_file[h]], buf, len / 2);
		return -1;
	}
	return append(&s->files[s->handle_file[h]], buf, len);
}

static int sim_close(void *ctx, int h)
{
	struct flash_sim *s = ctx;

	if (h < 0 || h >= FLASH_SIM_HANDLES || s->handle_file[h] < 0)
		return -1;
	s->handle_file[h] = -1;
	return s->dead ? -1 : 0;
}

static void drop(struct flash_sim *s, int i)
{
	free(s->files[i].data);
	memset(&s->files[i], 0, sizeof(s->files[i]));
}

static int sim_rename(void *ctx, const char *from, const char *to)
{
	struct flash_sim *s = ctx;
	int i, j;

	if (tick(s) != 1)
		return -1;
	i = find(s, from);
	if (i < 0 || strlen(to) > LUAOTA_NAME_MAX)
		return -1;
	j = find(s, to);
	if (j == i)
		return 0;
	if (j >= 0)
		drop(s, j);
	strcpy(s->files[i].name, to);
	return 0;
}

static int sim_remove(void *ctx, const char *name)
{
	struct flash_sim *s = ctx;
	int i = find(s, name);

	if (i < 0 || tick(s) != 1)
		return -1;
	drop(s, i);
	return 0;
}

static int sim_size(void *ctx, const char *name, uint32_t *size)
{
	struct flash_sim *s = ctx;
	int i;

	if (s->dead)
		return -1;
	i = find(s, name);
	if (i < 0)
		return -1;
	*size = (uint32_t)s->files[i].len;
	return 0;
}

static int sim_list(void *ctx, int (*each)(void *, const char *, uint32_t),
		    void *arg)
{
	struct flash_sim *s = ctx;
	int i;

	if (s->dead)
		return -1;
	for (i = 0; i < FLASH_SIM_FILES; i++)
		if (s->files[i].used &&
		    each(arg, s->files[i].name, (uint32_t)s->files[i].len))
			break;
	return 0;
}

void flash_sim_init(struct flash_sim *s)
{
	int h;

	memset(s, 0, sizeof(*s));
	for (h = 0; h < FLASH_SIM_HANDLES; h++)
		s->handle_file[h] = -1;
	s->cut_at = -1;
	s->flash.open = sim_open;
	s->flash.read = sim_read;
	s->flash.write = sim_write;
	s->flash.close = sim_close;
	s->flash.rename = sim_rename;
	s->flash.remove = sim_remove;
	s->flash.size = sim_size;
	s->flash.list = sim_list;
	s->flash.ctx = s;
}

void flash_sim_free(struct flash_sim *s)
{
	int i;

	for (i = 0; i < FLASH_SIM_FILES; i++)
		if (s->files[i].used)
			drop(s, i);
}

void flash_sim_arm(struct flash_sim *s, long n)
{
	s->ops = 0;
	s->cut_at = n;
}

void flash_sim_reboot(struct flash_sim *s)
{
	int h;

	for (h = 0; h < FLASH_SIM_HANDLES; h++)
		s->handle_file[h] = -1;
	s->dead = 0;
	s->cut_at = -1;
	s->ops = 0;
}

int flash_sim_put(struct flash_sim *s, const char *name, const void *data,
		  size_t len)
{
	int i = create(s, name);

	if (i < 0)
		return -1;
	return append(&s->files[i], data, len);
}

const struct flash_sim_file *flash_sim_get(const struct flash_sim *s,
					   const char *name)
{
	int i = find(s, name);

	return i < 0 ? NULL : &s->files[i];
}
