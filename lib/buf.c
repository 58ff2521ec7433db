#include "buf.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char empty_data[1];

void buf_init(struct buf *b)
{
	b->data = empty_data;
	b->len = 0;
	b->cap = 0;
}

void buf_release(struct buf *b)
{
	if (b->cap)
		free(b->data);
	buf_init(b);
}

char *buf_detach(struct buf *b, size_t *len_out)
{
	char *data = b->cap ? b->data : strdup("");
	if (len_out)
		*len_out = b->len;
	buf_init(b);
	return data;
}

int buf_grow(struct buf *b, size_t extra)
{
	size_t want, cap;
	char *data;

	if (extra > SIZE_MAX - b->len - 1)
		return stw_error("buffer size overflow");
	want = b->len + extra + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	data = b->cap ? realloc(b->data, cap) : malloc(cap);
	if (!data)
		return stw_error("out of memory");
	if (!b->cap)
		data[0] = 0;
	b->data = data;
	b->cap = cap;
	return 0;
}

int buf_add(struct buf *b, const void *data, size_t len)
{
	if (buf_grow(b, len) < 0)
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
	return 0;
}

int buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addch(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n < 0 || buf_grow(b, (size_t)n) < 0) {
		va_end(again);
		return n < 0 ? stw_error("cannot format string") : -1;
	}
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
	va_end(again);
	b->len += (size_t)n;
	return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->cap)
		b->data[0] = 0;
}

int buf_read_fd(struct buf *b, int fd, size_t max)
{
	for (;;) {
		ssize_t n;
		if (buf_grow(b, 65536) < 0)
			return -1;
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return stw_error_errno("read failed");
		}
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		b->data[b->len] = 0;
		if (b->len > max)
			return stw_error("input larger than %zu bytes", max);
	}
}

int buf_read_file(struct buf *b, const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return stw_error_errno("cannot open '%s'", path);
	ret = buf_read_fd(b, fd, max);
	close(fd);
	if (ret < 0)
		return stw_error_wrap("cannot read '%s'", path);
	return 0;
}
