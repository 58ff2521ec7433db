/*
 * A growable byte buffer. Invariants: `data` is never NULL and always
 * NUL-terminated (data[len] == 0); growth is overflow-checked. A buffer
 * owns its data; buf_release frees it and re-initialises the buffer.
 */
#ifndef STW_LIB_BUF_H
#define STW_LIB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_release(struct buf *b);
/* Hands the data to the caller (who frees it) and re-initialises b. */
char *buf_detach(struct buf *b, size_t *len_out);
int buf_grow(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addch(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_reset(struct buf *b);
/* Reads a whole file; fails if it exceeds max bytes. */
int buf_read_file(struct buf *b, const char *path, size_t max);
/* Reads a whole descriptor until EOF; fails if it exceeds max bytes. */
int buf_read_fd(struct buf *b, int fd, size_t max);

#endif
