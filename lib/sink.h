/*
 * Byte sinks that chain: tar writer -> hash (diff_id) -> compressor ->
 * hash (blob digest) -> file. Each sink forwards to `next` (NULL ends the
 * chain). The caller owns every sink in a chain and releases each one.
 */
#ifndef STW_LIB_SINK_H
#define STW_LIB_SINK_H

#include "digest.h"

#include <stddef.h>
#include <stdint.h>

struct sink {
	int (*write)(struct sink *s, const void *data, size_t len);
	/* Flushes everything buffered to next (and finishes next). */
	int (*finish)(struct sink *s);
	struct sink *next;
};

static inline int sink_write(struct sink *s, const void *data, size_t len)
{
	return s ? s->write(s, data, len) : 0;
}

static inline int sink_finish(struct sink *s)
{
	return s ? s->finish(s) : 0;
}

/* Hashes and counts what passes through. */
struct hash_sink {
	struct sink base;
	struct sha256 sha;
	uint64_t bytes;
	char digest[STW_DIGEST_LEN + 1]; /* set by finish */
};

int hash_sink_init(struct hash_sink *h, struct sink *next);
void hash_sink_release(struct hash_sink *h);

/* Writes to a file descriptor through a buffer; does not close fd. */
struct fd_sink {
	struct sink base;
	int fd;
	char *buffer;
	size_t used;
	const char *name; /* for error messages */
};

int fd_sink_init(struct fd_sink *f, int fd, const char *name);
void fd_sink_release(struct fd_sink *f);

/* Writes all of data to fd, retrying on EINTR and short writes. */
int write_all(int fd, const void *data, size_t len);



/* Passes at most `limit` bytes on; more is an error naming `what`, and so
 * is less at finish. Used when a size was promised up front (an archive
 * member's header); finishing it does not finish next, which goes on. */
struct limit_sink {
	struct sink base;
	uint64_t limit, bytes;
	const char *what;
};

void limit_sink_init(struct limit_sink *l, uint64_t limit, const char *what, struct sink *next);
#endif
