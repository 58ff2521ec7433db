/* A push parser for tar streams; see tar_reader.h for what it accepts. */
#include "tar_reader.h"

#include "buf.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

enum { ST_HEADER, ST_META, ST_DATA, ST_END };

/* ustar header field offsets and lengths */
#define F_NAME 0, 100
#define F_MODE 100, 8
#define F_SIZE 124, 12
#define F_CHKSUM 148, 8
#define F_TYPE 156
#define F_LINK 157, 100
#define F_MAGIC 257
#define F_PREFIX 345, 155

static uint64_t padding_of(uint64_t size)
{
	return (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
}

/* An octal field (NUL or space terminated, leading spaces allowed) or a
 * base-256 one (high bit of the first byte set, positive only). */
static int parse_number(uint64_t *out, const unsigned char *f, size_t len)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		if (f[0] & 0x40)
			return -1; /* negative */
		v = f[0] & 0x3f;
		for (i = 1; i < len; i++) {
			if (v >> 56)
				return -1;
			v = v << 8 | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 61)
			return -1;
		v = v << 3 | (uint64_t)(f[i] - '0');
	}
	if (i < len && f[i] != 0 && f[i] != ' ')
		return -1;
	*out = v;
	return 0;
}

static int checksum_ok(const unsigned char *b)
{
	uint64_t want;
	unsigned long sum = 0;
	long ssum = 0;

	if (parse_number(&want, b + 148, 8) < 0)
		return 0;
	for (size_t i = 0; i < TAR_BLOCK; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : b[i];
		sum += c;
		ssum += (signed char)c; /* some old writers summed signed chars */
	}
	return want == sum || (long long)want == (long long)ssum;
}

static int all_zero(const unsigned char *b)
{
	for (size_t i = 0; i < TAR_BLOCK; i++)
		if (b[i])
			return 0;
	return 1;
}

static char *field_string(const unsigned char *b, size_t off, size_t len)
{
	return strndup((const char *)b + off, strnlen((const char *)b + off, len));
}

/* Drops leading "/" and "./" and trailing "/": "./nix/store/" -> "nix/store". */
static char *normalise(char *path)
{
	char *p = path;
	size_t n;

	for (;;) {
		if (p[0] == '/')
			p++;
		else if (p[0] == '.' && p[1] == '/')
			p += 2;
		else
			break;
	}
	if (p[0] == '.' && p[1] == 0)
		p++;
	n = strlen(p);
	while (n && p[n - 1] == '/')
		p[--n] = 0;
	memmove(path, p, n + 1);
	return path;
}

static void clear_overrides(struct tar_reader *r)
{
	free(r->pax_path);
	free(r->pax_link);
	free(r->gnu_path);
	free(r->gnu_link);
	r->pax_path = r->pax_link = r->gnu_path = r->gnu_link = NULL;
	r->pax_has_size = 0;
}

/* "LEN key=value\n" records; path, linkpath and size are kept. */
static int parse_pax(struct tar_reader *r, const char *d, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		char *end;
		unsigned long long rec = strtoull(d + pos, &end, 10);
		const char *key, *eq, *value, *stop;

		if (end == d + pos || *end != ' ' || rec == 0 || rec > len - pos || d[pos + rec - 1] != '\n')
			return stw_error("%s: malformed PAX record at byte %zu of entry %llu", r->origin, pos,
					 (unsigned long long)r->entries);
		key = end + 1;
		stop = d + pos + rec - 1;
		if (!(eq = memchr(key, '=', (size_t)(stop - key))))
			return stw_error("%s: PAX record without '='", r->origin);
		value = eq + 1;
		if ((size_t)(eq - key) == 4 && !memcmp(key, "path", 4)) {
			free(r->pax_path);
			r->pax_path = strndup(value, (size_t)(stop - value));
		} else if ((size_t)(eq - key) == 8 && !memcmp(key, "linkpath", 8)) {
			free(r->pax_link);
			r->pax_link = strndup(value, (size_t)(stop - value));
		} else if ((size_t)(eq - key) == 4 && !memcmp(key, "size", 4)) {
			char *num_end;
			r->pax_size = strtoull(value, &num_end, 10);
			if (num_end != stop || value == stop)
				return stw_error("%s: malformed PAX size", r->origin);
			r->pax_has_size = 1;
		}
		pos += rec;
	}
	return 0;
}

static int finish_meta(struct tar_reader *r)
{
	const char *d = r->meta->data ? r->meta->data : "";
	size_t len = r->meta->len;

	switch (r->meta_type) {
	case 'x':
		return parse_pax(r, d, len);
	case 'L':
		free(r->gnu_path);
		return (r->gnu_path = strndup(d, strnlen(d, len))) ? 0 : stw_error("out of memory");
	case 'K':
		free(r->gnu_link);
		return (r->gnu_link = strndup(d, strnlen(d, len))) ? 0 : stw_error("out of memory");
	default: /* 'g': global records apply to no entry we report */
		return 0;
	}
}

static int report_entry(struct tar_reader *r)
{
	int rc = 0;

	r->entries++;
	r->entry.head = r->head;
	if (r->entry.path[0])
		rc = r->on_entry(r->ctx, &r->entry);
	free(r->entry_path);
	free(r->entry_link);
	r->entry_path = r->entry_link = NULL;
	return rc;
}

/* POSIX: these carry no data whatever their size field says. */
static int header_only(char type)
{
	return type == TAR_HARDLINK || type == TAR_SYMLINK || type == TAR_CHAR || type == TAR_BLOCK_DEV ||
	       type == TAR_DIR || type == TAR_FIFO;
}

static int start_entry(struct tar_reader *r, const unsigned char *b, char type, uint64_t size)
{
	uint64_t mode = 0;
	char *name = NULL;

	if (parse_number(&mode, b + 100, 8) < 0)
		return stw_error("%s: entry %llu has a malformed mode", r->origin, (unsigned long long)r->entries);
	if (r->pax_path || r->gnu_path) {
		name = r->pax_path ? r->pax_path : r->gnu_path;
		*(r->pax_path ? &r->pax_path : &r->gnu_path) = NULL;
	} else if (!memcmp(b + F_MAGIC, "ustar\0", 6) && b[345]) {
		struct buf joined;
		char *prefix = field_string(b, F_PREFIX), *base = field_string(b, F_NAME);
		buf_init(&joined);
		if (prefix && base && buf_addf(&joined, "%s/%s", prefix, base) == 0)
			name = buf_detach(&joined, NULL);
		buf_release(&joined);
		free(prefix);
		free(base);
	} else {
		name = field_string(b, F_NAME);
	}
	r->entry_path = name;
	if (r->pax_link || r->gnu_link) {
		r->entry_link = r->pax_link ? r->pax_link : r->gnu_link;
		*(r->pax_link ? &r->pax_link : &r->gnu_link) = NULL;
	} else {
		r->entry_link = field_string(b, F_LINK);
	}
	clear_overrides(r);
	if (!r->entry_path || !r->entry_link)
		return stw_error("out of memory");
	memset(&r->entry, 0, sizeof(r->entry));
	r->entry.path = normalise(r->entry_path);
	r->entry.link = r->entry_link;
	r->entry.type = (type == 0 || type == '7') ? TAR_FILE : type;
	r->entry.mode = (unsigned)(mode & 07777);
	r->entry.size = header_only(type) ? 0 : size;
	r->data_left = r->entry.size;
	r->pad_left = padding_of(r->data_left);
	r->state = ST_DATA;
	return r->data_left ? 0 : (r->state = ST_HEADER, report_entry(r));
}

static int parse_header(struct tar_reader *r)
{
	const unsigned char *b = r->block;
	uint64_t size;
	char type = (char)b[F_TYPE];

	if (all_zero(b)) {
		r->state = ST_END;
		return 0;
	}
	if (!checksum_ok(b))
		return stw_error("%s: bad tar header checksum at entry %llu", r->origin,
				 (unsigned long long)r->entries);
	if (parse_number(&size, b + 124, 12) < 0)
		return stw_error("%s: entry %llu has a malformed size", r->origin, (unsigned long long)r->entries);
	if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
		if (size > TAR_READ_MAX_META)
			return stw_error("%s: a %c header of %llu bytes is larger than %u", r->origin, type,
					 (unsigned long long)size, TAR_READ_MAX_META);
		buf_reset(r->meta);
		r->meta_type = type;
		r->data_left = size;
		r->pad_left = padding_of(size);
		r->state = ST_META;
		return size ? 0 : (r->state = ST_HEADER, finish_meta(r));
	}
	return start_entry(r, b, type, r->pax_has_size ? r->pax_size : size);
}

/* Consumes entry or metadata bytes, then their padding; the state is
 * ST_HEADER again once both are done. */
static size_t take_data(struct tar_reader *r, const unsigned char *d, size_t len, int *rc)
{
	size_t n;

	*rc = 0;
	if (r->data_left) {
		n = len < r->data_left ? len : (size_t)r->data_left;
		if (r->state == ST_META) {
			*rc = buf_add(r->meta, d, n);
		} else if (r->entry.head_len < TAR_READ_HEAD && r->entry.type == TAR_FILE) {
			size_t k = TAR_READ_HEAD - r->entry.head_len;
			memcpy(r->head + r->entry.head_len, d, k < n ? k : n);
			r->entry.head_len += k < n ? k : n;
		}
		r->data_left -= n;
	} else {
		n = len < r->pad_left ? len : (size_t)r->pad_left;
		r->pad_left -= n;
	}
	if (!r->data_left && !r->pad_left)
		r->state = ST_HEADER;
	return n;
}

static int reader_write(struct sink *s, const void *data, size_t len)
{
	struct tar_reader *r = (struct tar_reader *)s;
	const unsigned char *d = data;

	while (len) {
		if (r->state == ST_END)
			return 0; /* what follows the end marker is padding */
		if (r->state == ST_HEADER) {
			size_t n = TAR_BLOCK - r->block_used;
			if (n > len)
				n = len;
			memcpy(r->block + r->block_used, d, n);
			r->block_used += n, d += n, len -= n;
			if (r->block_used < TAR_BLOCK)
				return 0;
			r->block_used = 0;
			if (parse_header(r) < 0)
				return -1;
			continue;
		}
		{
			int was_meta = r->state == ST_META, rc;
			size_t n = take_data(r, d, len, &rc);
			if (rc < 0)
				return -1;
			d += n, len -= n;
			if (r->state == ST_HEADER && (was_meta ? finish_meta(r) : report_entry(r)) < 0)
				return -1;
		}
	}
	return 0;
}

static int reader_finish(struct sink *s)
{
	struct tar_reader *r = (struct tar_reader *)s;

	if (r->state == ST_END || (r->state == ST_HEADER && r->block_used == 0 && !r->pax_path && !r->gnu_path))
		return 0;
	return stw_error("%s: the tar stream ends inside entry %llu", r->origin, (unsigned long long)r->entries);
}

int tar_reader_init(struct tar_reader *r, tar_entry_fn on_entry, void *ctx, const char *origin)
{
	memset(r, 0, sizeof(*r));
	r->base.write = reader_write;
	r->base.finish = reader_finish;
	r->on_entry = on_entry;
	r->ctx = ctx;
	r->origin = origin;
	r->state = ST_HEADER;
	if (!(r->meta = malloc(sizeof(*r->meta))))
		return stw_error("out of memory");
	buf_init(r->meta);
	return 0;
}

void tar_reader_release(struct tar_reader *r)
{
	if (r->meta) {
		buf_release(r->meta);
		free(r->meta);
	}
	clear_overrides(r);
	free(r->entry_path);
	free(r->entry_link);
	memset(r, 0, sizeof(*r));
}
