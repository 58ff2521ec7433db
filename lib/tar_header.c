#include "tar_header.h"
#include "buf.h"
#include "error.h"

#include <stdio.h>
#include <string.h>

#define USTAR_NAME 100
#define MAX_OCTAL_SIZE 077777777777ULL /* 11 octal digits */
#define MAX_OCTAL_ID 07777777ULL       /* 7 octal digits */

static const char zero_block[TAR_BLOCK];

/* "%d key=value\n" where %d counts the whole record, itself included. */
static int pax_record(struct buf *b, const char *key, const char *value, size_t value_len)
{
	size_t body = 1 + strlen(key) + 1 + value_len + 1;
	size_t len = body + 1;
	char digits[24];

	while ((size_t)snprintf(digits, sizeof(digits), "%zu", len) + body != len)
		len = (size_t)snprintf(digits, sizeof(digits), "%zu", len) + body;
	if (buf_addf(b, "%zu %s=", len, key) < 0 || buf_add(b, value, value_len) < 0)
		return -1;
	return buf_addch(b, '\n');
}

static int pax_number(struct buf *b, const char *key, uint64_t value)
{
	char text[24];
	int n = snprintf(text, sizeof(text), "%llu", (unsigned long long)value);
	return pax_record(b, key, text, (size_t)n);
}

static size_t dir_name_len(const struct tar_header *h)
{
	return strlen(h->name) + (h->type == TAR_DIR ? 1 : 0);
}

static int pax_records(struct buf *b, const struct tar_header *h)
{
	if (dir_name_len(h) > USTAR_NAME) {
		struct buf name;
		int ret;
		buf_init(&name);
		ret = buf_adds(&name, h->name);
		if (!ret && h->type == TAR_DIR)
			ret = buf_addch(&name, '/');
		if (!ret)
			ret = pax_record(b, "path", name.data, name.len);
		buf_release(&name);
		if (ret < 0)
			return -1;
	}
	if (h->linkname && strlen(h->linkname) > USTAR_NAME &&
	    pax_record(b, "linkpath", h->linkname, strlen(h->linkname)) < 0)
		return -1;
	if (h->size > MAX_OCTAL_SIZE && pax_number(b, "size", h->size) < 0)
		return -1;
	if (h->uid > MAX_OCTAL_ID && pax_number(b, "uid", h->uid) < 0)
		return -1;
	if (h->gid > MAX_OCTAL_ID && pax_number(b, "gid", h->gid) < 0)
		return -1;
	return 0;
}

/* width-1 zero-padded octal digits and a NUL, as "%0*llo" would write
 * them (by hand: snprintf was the most of a header's cost). */
static void octal(char *field, size_t width, uint64_t value, uint64_t max)
{
	if (value > max)
		value = 0; /* carried by a PAX record */
	field[width - 1] = 0;
	for (size_t i = width - 1; i-- > 0; value >>= 3)
		field[i] = (char)('0' + (value & 7));
}

/* The name field holds name (and a '/' when slash and there is room):
 * the first 100 bytes of what a PAX record carries in full. */
static void ustar_block(char block[TAR_BLOCK], const struct tar_header *h, const char *name,
			size_t name_len, int slash, char type)
{
	unsigned sum = 0;
	const char *owner = "root";

	memset(block, 0, TAR_BLOCK);
	memcpy(block, name, name_len > USTAR_NAME ? USTAR_NAME : name_len);
	if (slash && name_len < USTAR_NAME)
		block[name_len] = '/';
	octal(block + 100, 8, h->mode & 07777, 07777777);
	octal(block + 108, 8, h->uid, MAX_OCTAL_ID);
	octal(block + 116, 8, h->gid, MAX_OCTAL_ID);
	octal(block + 124, 12, h->size, MAX_OCTAL_SIZE);
	octal(block + 136, 12, h->mtime, MAX_OCTAL_SIZE);
	block[156] = type;
	if (h->linkname)
		memcpy(block + 157, h->linkname,
		       strlen(h->linkname) > USTAR_NAME ? USTAR_NAME : strlen(h->linkname));
	memcpy(block + 257, "ustar\0" "00", 8);
	if (type != 'x') {
		if (h->uid == 0)
			memcpy(block + 265, owner, 4);
		if (h->gid == 0)
			memcpy(block + 297, owner, 4);
	}
	octal(block + 329, 8, h->devmajor, MAX_OCTAL_ID);
	octal(block + 337, 8, h->devminor, MAX_OCTAL_ID);
	memset(block + 148, ' ', 8);
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (unsigned char)block[i];
	octal(block + 148, 7, sum, 0777777); /* "%06o", its NUL, then a space */
	block[155] = ' ';
}

int tar_write_header(struct sink *out, const struct tar_header *h)
{
	char block[TAR_BLOCK];
	struct buf pax;
	int ret = -1;

	buf_init(&pax);
	if (pax_records(&pax, h) < 0)
		goto out;
	if (pax.len) {
		struct tar_header ph = { .name = "././@PaxHeader", .type = 'x', .mode = 0644,
					 .size = pax.len, .mtime = h->mtime };
		ustar_block(block, &ph, ph.name, strlen(ph.name), 0, 'x');
		if (sink_write(out, block, TAR_BLOCK) < 0 || sink_write(out, pax.data, pax.len) < 0 ||
		    tar_write_padding(out, pax.len) < 0)
			goto out;
	}
	ustar_block(block, h, h->name, strlen(h->name), h->type == TAR_DIR, (char)h->type);
	ret = sink_write(out, block, TAR_BLOCK);
out:
	buf_release(&pax);
	return ret;
}

uint64_t tar_header_size(const struct tar_header *h)
{
	struct buf pax;
	uint64_t size = TAR_BLOCK;

	buf_init(&pax);
	if (pax_records(&pax, h) == 0 && pax.len)
		size += TAR_BLOCK + (pax.len + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	buf_release(&pax);
	return size;
}

int tar_write_padding(struct sink *out, uint64_t size)
{
	size_t pad = (size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
	return sink_write(out, zero_block, pad);
}

int tar_write_end(struct sink *out)
{
	if (sink_write(out, zero_block, TAR_BLOCK) < 0)
		return -1;
	return sink_write(out, zero_block, TAR_BLOCK);
}

int tar_write_file_header(struct sink *out, const char *name, uint64_t size)
{
	struct tar_header h = { .name = name, .type = TAR_FILE, .mode = 0644, .size = size,
				.mtime = STW_TAR_MTIME };
	return tar_write_header(out, &h);
}

int tar_write_dir_header(struct sink *out, const char *name)
{
	struct tar_header h = { .name = name, .type = TAR_DIR, .mode = 0755, .mtime = STW_TAR_MTIME };
	return tar_write_header(out, &h);
}
