/*
 * Reading a tar stream as it arrives: a sink that parses headers (ustar,
 * PAX 'x' records for path, linkpath and size, GNU 'L'/'K' long names,
 * base-256 numbers) and reports each entry once its data has passed, with
 * the first TAR_READ_HEAD bytes of a regular file's content (enough for an
 * ELF header or a "#!" line). Content is never held beyond that.
 *
 * Hand-written rather than libarchive because the bytes arrive pushed, from
 * libcurl's write callback through the blob hash and the decompressor, in
 * one pass; libarchive reads by pulling and would need a thread and a pipe
 * or a temporary copy of every layer.
 */
#ifndef STW_LIB_TAR_READER_H
#define STW_LIB_TAR_READER_H

#include "sink.h"
#include "tar_header.h"

#include <stddef.h>
#include <stdint.h>

#define TAR_READ_HEAD 64
/* Longest path, link or PAX header accepted: a hostile layer cannot make
 * us hold more than this for one entry. */
#define TAR_READ_MAX_META (1u << 20)
#define TAR_HARDLINK '1'

struct tar_read_entry {
	const char *path;     /* as in the archive, "./" and leading '/' removed, no trailing '/' */
	const char *link;     /* symlink or hardlink target; "" otherwise */
	char type;            /* TAR_FILE, TAR_HARDLINK, TAR_SYMLINK, TAR_DIR, ... */
	unsigned mode;
	uint64_t size;
	const unsigned char *head; /* first head_len bytes of a regular file */
	size_t head_len;
};

/* Called for every entry; a negative return stops the stream (the sink's
 * write fails with that error). */
typedef int (*tar_entry_fn)(void *ctx, const struct tar_read_entry *e);

struct tar_reader {
	struct sink base;
	tar_entry_fn on_entry;
	void *ctx;
	const char *origin; /* names the stream in errors ("layer 2") */
	unsigned char block[TAR_BLOCK];
	size_t block_used;
	int state;
	uint64_t data_left, pad_left;
	struct buf *meta; /* PAX or GNU long-name data being read */
	char meta_type;
	char *pax_path, *pax_link, *gnu_path, *gnu_link;
	int pax_has_size;
	uint64_t pax_size;
	struct tar_read_entry entry;
	char *entry_path, *entry_link;
	unsigned char head[TAR_READ_HEAD];
	uint64_t entries;
};

/* origin must outlive the reader. Nothing is forwarded: next is NULL. */
int tar_reader_init(struct tar_reader *r, tar_entry_fn on_entry, void *ctx, const char *origin);
void tar_reader_release(struct tar_reader *r);

#endif
