/* Fixtures several unit tests share, on top of harness.h: a sink that
 * collects what is written into memory, and running a command to capture
 * its output. Included after harness.h (they use its CHECK macros). */
#ifndef STW_TEST_SUPPORT_H
#define STW_TEST_SUPPORT_H

#include "buf.h"
#include "sink.h"

#include <stdio.h>
#include <string.h>

struct mem_sink {
	struct sink base;
	struct buf data;
	int finished; /* how often finish was called */
};

static inline int mem_write(struct sink *s, const void *data, size_t len)
{
	return buf_add(&((struct mem_sink *)s)->data, data, len);
}

static inline int mem_finish(struct sink *s)
{
	((struct mem_sink *)s)->finished++;
	return 0;
}

static inline void mem_sink_init(struct mem_sink *m)
{
	memset(m, 0, sizeof(*m));
	m->base.write = mem_write;
	m->base.finish = mem_finish;
	buf_init(&m->data);
}

/* The whole standard output of a shell command, which must exit 0. */
static inline void run_capture(struct buf *out, const char *command)
{
	FILE *p = popen(command, "r");
	char chunk[4096];
	size_t n;

	CHECK(p);
	buf_init(out);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		CHECK_OK(buf_add(out, chunk, n));
	CHECK_EQ_INT(pclose(p), 0);
}

#endif
