#include "layer_lanes.h"
#include "error.h"
#include "layer_stream.h"
#include "pool.h"
#include "sha256_lanes.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Per lane and thread: in L2 between the read and the hash. */
#define CHUNK (256 * 1024)

struct lanes_job {
	const struct stw_layer *const *layers;
	size_t count;
	struct layer_digests *out;
	atomic_size_t next;
	atomic_int stop; /* a layer failed: every thread ends */
};

struct slot {
	struct layer_stream stream;
	struct sha256_lane lane;
	size_t index;
	int busy;
	char *chunk;
	size_t len;
};

/* The next layer of the list into s: 1, 0 when none is left, -1. */
static int slot_take(struct lanes_job *j, struct slot *s)
{
	size_t i;

	if (atomic_load(&j->stop) || (i = atomic_fetch_add(&j->next, 1)) >= j->count)
		return 0;
	s->index = i;
	s->busy = 1;
	sha256_lane_init(&s->lane);
	return layer_stream_open(&s->stream, j->layers[i]) < 0 ? -1 : 1;
}

static void slot_end(struct slot *s)
{
	if (s->busy)
		layer_stream_close(&s->stream);
	s->busy = 0;
}

static void slot_done(struct lanes_job *j, struct slot *s)
{
	struct layer_digests *d = &j->out[s->index];

	sha256_lane_final(&s->lane, d->diff_id);
	memcpy(d->digest, d->diff_id, sizeof(d->digest));
	d->tar_size = d->size = s->lane.bytes;
	slot_end(s);
}

/* One round: fill both slots' buffers, hash them (together when both
 * are busy), retire a slot whose layer ended. */
static int step(struct lanes_job *j, struct slot *s)
{
	for (int k = 0; k < 2; k++) {
		ssize_t n;
		s[k].len = 0;
		if (!s[k].busy)
			continue;
		if ((n = layer_stream_read(&s[k].stream, s[k].chunk, CHUNK)) < 0)
			return -1;
		s[k].len = (size_t)n;
	}
	if (s[0].busy && s[1].busy)
		sha256_lanes_update(&s[0].lane, s[0].chunk, s[0].len, &s[1].lane, s[1].chunk, s[1].len);
	else
		for (int k = 0; k < 2; k++)
			if (s[k].busy)
				sha256_lane_update(&s[k].lane, s[k].chunk, s[k].len);
	for (int k = 0; k < 2; k++)
		if (s[k].busy && s[k].len < CHUNK) /* a short read ends a stream */
			slot_done(j, &s[k]);
	return 0;
}

static int lanes_thread(void *ctx, size_t unused)
{
	struct lanes_job *j = ctx;
	struct slot s[2];
	int ret = -1;

	(void)unused;
	memset(s, 0, sizeof(s));
	s[0].chunk = malloc(CHUNK);
	s[1].chunk = malloc(CHUNK);
	if (!s[0].chunk || !s[1].chunk) {
		stw_error("out of memory");
		goto out;
	}
	for (;;) {
		for (int k = 0; k < 2; k++)
			if (!s[k].busy && slot_take(j, &s[k]) < 0)
				goto out;
		if ((!s[0].busy && !s[1].busy) || atomic_load(&j->stop))
			break;
		if (step(j, s) < 0)
			goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		atomic_store(&j->stop, 1);
	for (int k = 0; k < 2; k++) {
		slot_end(&s[k]);
		free(s[k].chunk);
	}
	return ret;
}

int layer_lanes_digests(const struct stw_layer *const *layers, size_t count, int jobs,
			struct layer_digests *out)
{
	struct lanes_job j = { .layers = layers, .count = count, .out = out };
	size_t threads;

	if (!sha256_lanes_available())
		return stw_error("two-lane hashing is not available on this CPU");
	if (jobs <= 0)
		jobs = pool_default_jobs();
	/* two layers a thread: no more threads than half the layers */
	threads = (count + 1) / 2 < (size_t)jobs ? (count + 1) / 2 : (size_t)jobs;
	atomic_init(&j.next, 0);
	atomic_init(&j.stop, 0);
	if (threads == 0)
		return 0;
	return pool_run(threads, (int)threads, lanes_thread, &j);
}
