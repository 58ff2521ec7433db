#include "pool.h"
#include "error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pool {
	pool_task task;
	void *ctx;
	size_t n;
	atomic_size_t next;
	atomic_int failed;
	char (*errors)[1024];
	unsigned char *failed_at;
};

int pool_default_jobs(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	return cores < 1 ? 1 : cores > 64 ? 64 : (int)cores;
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n || atomic_load(&p->failed))
			break;
		if (p->task(p->ctx, i) < 0) {
			snprintf(p->errors[i], sizeof(p->errors[i]), "%s", stw_error_last());
			p->failed_at[i] = 1;
			atomic_store(&p->failed, 1);
		}
	}
	return NULL;
}

int pool_run(size_t n, int jobs, pool_task task, void *ctx)
{
	struct pool p = { .task = task, .ctx = ctx, .n = n };
	pthread_t *threads = NULL;
	size_t started = 0, count;
	int ret = 0;

	if (jobs <= 0)
		jobs = pool_default_jobs();
	count = (size_t)jobs < n ? (size_t)jobs : n;
	if (count <= 1) { /* no threads for the trivial case */
		for (size_t i = 0; i < n; i++)
			if (task(ctx, i) < 0)
				return -1;
		return 0;
	}
	p.errors = calloc(n, sizeof(*p.errors));
	p.failed_at = calloc(n, 1);
	threads = calloc(count, sizeof(*threads));
	atomic_init(&p.next, 0);
	atomic_init(&p.failed, 0);
	if (!p.errors || !p.failed_at || !threads) {
		ret = stw_error("out of memory");
		goto out;
	}
	for (; started < count; started++)
		if (pthread_create(&threads[started], NULL, worker, &p) != 0)
			break;
	if (started == 0)
		worker(&p);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	for (size_t i = 0; i < n; i++)
		if (p.failed_at[i]) {
			ret = stw_error("%s", p.errors[i]);
			break;
		}
out:
	free(p.errors);
	free(p.failed_at);
	free(threads);
	return ret;
}
