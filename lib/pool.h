/* Running n independent tasks on up to `jobs` threads. A task that fails
 * records its message; pool_run reports the failure of the lowest index,
 * so the error is the same whatever the scheduling. */
#ifndef STW_LIB_POOL_H
#define STW_LIB_POOL_H

#include <stddef.h>

typedef int (*pool_task)(void *ctx, size_t index);

/* jobs <= 0: one thread per online core. */
int pool_run(size_t n, int jobs, pool_task task, void *ctx);
int pool_default_jobs(void);

#endif
