/* Per-blob progress bars on a terminal (stderr), redrawn in place; nothing
 * at all when stderr is not a terminal, where one summary line is enough. */
#ifndef STW_PROGRESS_H
#define STW_PROGRESS_H

#include "stowage/registry.h"

#include <pthread.h>
#include <time.h>

struct progress_row {
	uint64_t size, bytes;
	int state; /* 0 not started, 1 active, 2 done */
	enum stw_blob_action action;
	struct timespec started;
	double seconds; /* frozen when done, so the rate stops moving */
	char digest[16];
};

struct progress_view {
	pthread_mutex_t lock;
	int enabled;
	struct progress_row *rows;
	size_t count;
	int drawn;
	struct timespec last_draw;
};

/* Enables itself only when stderr is a terminal. */
void progress_view_init(struct progress_view *v);
void progress_view_release(struct progress_view *v);
/* The stw_progress_fn to pass with the view as its context. */
void progress_view_update(void *view, const struct stw_progress *p);

#endif
