#include "sink.h"
#include "error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Big enough that writing a layer costs few syscalls, small enough that
 * several parallel writers stay far below the memory target. */
#define FD_SINK_BUFFER (256 * 1024)

static int hash_write(struct sink *s, const void *data, size_t len)
{
	struct hash_sink *h = (struct hash_sink *)s;
	if (sha256_update(&h->sha, data, len) < 0)
		return -1;
	h->bytes += len;
	return sink_write(s->next, data, len);
}

static int hash_finish(struct sink *s)
{
	struct hash_sink *h = (struct hash_sink *)s;
	if (sha256_final(&h->sha, h->digest) < 0)
		return -1;
	return sink_finish(s->next);
}

int hash_sink_init(struct hash_sink *h, struct sink *next)
{
	memset(h, 0, sizeof(*h));
	h->base.write = hash_write;
	h->base.finish = hash_finish;
	h->base.next = next;
	return sha256_init(&h->sha);
}

void hash_sink_release(struct hash_sink *h)
{
	sha256_release(&h->sha);
}

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fd_flush(struct fd_sink *f)
{
	if (f->used && write_all(f->fd, f->buffer, f->used) < 0)
		return stw_error_errno("cannot write '%s'", f->name);
	f->used = 0;
	return 0;
}

static int fd_write(struct sink *s, const void *data, size_t len)
{
	struct fd_sink *f = (struct fd_sink *)s;

	if (f->used + len > FD_SINK_BUFFER && fd_flush(f) < 0)
		return -1;
	if (len >= FD_SINK_BUFFER) {
		if (write_all(f->fd, data, len) < 0)
			return stw_error_errno("cannot write '%s'", f->name);
		return 0;
	}
	memcpy(f->buffer + f->used, data, len);
	f->used += len;
	return 0;
}

static int fd_finish(struct sink *s)
{
	return fd_flush((struct fd_sink *)s);
}

int fd_sink_init(struct fd_sink *f, int fd, const char *name)
{
	memset(f, 0, sizeof(*f));
	f->base.write = fd_write;
	f->base.finish = fd_finish;
	f->fd = fd;
	f->name = name;
	f->buffer = malloc(FD_SINK_BUFFER);
	if (!f->buffer)
		return stw_error("out of memory");
	return 0;
}

void fd_sink_release(struct fd_sink *f)
{
	free(f->buffer);
	f->buffer = NULL;
}

static int limit_write(struct sink *s, const void *data, size_t len)
{
	struct limit_sink *l = (struct limit_sink *)s;
	if (len > l->limit - l->bytes)
		return stw_error("%s is larger than recorded (%llu bytes): rebuild the image", l->what,
				 (unsigned long long)l->limit);
	l->bytes += len;
	return sink_write(s->next, data, len);
}

static int limit_finish(struct sink *s)
{
	struct limit_sink *l = (struct limit_sink *)s;
	if (l->bytes != l->limit)
		return stw_error("%s is smaller than recorded (%llu of %llu bytes): rebuild the image", l->what,
				 (unsigned long long)l->bytes, (unsigned long long)l->limit);
	return 0; /* the stream goes on after this member: next is not finished */
}

void limit_sink_init(struct limit_sink *l, uint64_t limit, const char *what, struct sink *next)
{
	memset(l, 0, sizeof(*l));
	l->base.write = limit_write;
	l->base.finish = limit_finish;
	l->base.next = next;
	l->limit = limit;
	l->what = what;
}
