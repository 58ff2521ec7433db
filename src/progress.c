#include "progress.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BAR_WIDTH 24
#define REDRAW_NS 100000000L /* 10 times a second at most */

void progress_view_init(struct progress_view *v)
{
	const char *term = getenv("TERM");
	memset(v, 0, sizeof(*v));
	pthread_mutex_init(&v->lock, NULL);
	v->enabled = isatty(2) && !(term && !strcmp(term, "dumb"));
}

void progress_view_release(struct progress_view *v)
{
	free(v->rows);
	pthread_mutex_destroy(&v->lock);
}

static double seconds_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void draw_row(const struct progress_row *r)
{
	char done[32], total[32], rate[32];
	int fill = r->size ? (int)((double)r->bytes / (double)r->size * BAR_WIDTH) : BAR_WIDTH;
	char bar[BAR_WIDTH + 1];

	if (r->state == 2 && r->action != STW_BLOB_UPLOADED) {
		fprintf(stderr, "\r\033[K  %s  %s\n", r->digest,
			r->action == STW_BLOB_SKIPPED ? "already there" : "mounted from another repository");
		return;
	}
	if (fill > BAR_WIDTH)
		fill = BAR_WIDTH;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '-', (size_t)(BAR_WIDTH - fill));
	bar[BAR_WIDTH] = 0;
	cli_format_bytes(done, sizeof(done), r->bytes);
	cli_format_bytes(total, sizeof(total), r->size);
	cli_format_bytes(rate, sizeof(rate),
			 (unsigned long long)((double)r->bytes / ((r->state == 2 ? r->seconds : seconds_since(&r->started)) + 1e-3)));
	fprintf(stderr, "\r\033[K  %s  [%s] %10s / %-10s %10s/s%s\n", r->digest, bar, done, total, rate,
		r->state == 2 ? "  done" : "");
}

static void redraw(struct progress_view *v)
{
	int lines = 0;
	if (v->drawn)
		fprintf(stderr, "\033[%dA", v->drawn);
	for (size_t i = 0; i < v->count; i++)
		if (v->rows[i].state) {
			draw_row(&v->rows[i]);
			lines++;
		}
	v->drawn = lines;
	fflush(stderr);
	clock_gettime(CLOCK_MONOTONIC, &v->last_draw);
}

void progress_view_update(void *view, const struct stw_progress *p)
{
	struct progress_view *v = view;
	struct progress_row *r;

	if (!v->enabled)
		return;
	pthread_mutex_lock(&v->lock);
	if (!v->rows) {
		v->rows = calloc(p->count, sizeof(*v->rows));
		v->count = v->rows ? p->count : 0;
	}
	if (p->index >= v->count) {
		pthread_mutex_unlock(&v->lock);
		return;
	}
	r = &v->rows[p->index];
	if (p->event == STW_PROGRESS_START) {
		r->state = 1;
		r->size = p->size;
		snprintf(r->digest, sizeof(r->digest), "%.12s", p->digest + 7);
		clock_gettime(CLOCK_MONOTONIC, &r->started);
	} else {
		r->bytes = p->bytes;
		if (p->event == STW_PROGRESS_DONE) {
			r->state = 2;
			r->seconds = seconds_since(&r->started);
			r->action = p->action;
		}
	}
	if (p->event != STW_PROGRESS_BYTES || seconds_since(&v->last_draw) * 1e9 >= REDRAW_NS)
		redraw(v);
	pthread_mutex_unlock(&v->lock);
}
