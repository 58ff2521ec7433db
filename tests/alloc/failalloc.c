/*
 * The allocation-failure mode: linked into build[/san]/stowage-failalloc
 * with -Wl,--wrap for malloc, calloc, realloc, strdup and strndup, so every
 * allocation stowage's own code makes goes through here, and jansson's too
 * (json_set_alloc_funcs, before main). With STOWAGE_FAIL_ALLOC=N the Nth
 * allocation (counting from 1, across threads) returns NULL; every other
 * one succeeds. STOWAGE_ALLOC_COUNT=FILE writes the number of allocations
 * made to FILE at exit, so a test can loop N over all of them.
 * (libcurl's and OpenSSL's own allocations are not counted.)
 */
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static atomic_ulong count;
static unsigned long fail_at;
static const char *count_file;

/* 1 when this allocation is the one to fail. */
static int fails(void)
{
	unsigned long n = atomic_fetch_add(&count, 1) + 1;
	if (fail_at && n == fail_at) {
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t size) { return fails() ? NULL : __real_malloc(size); }
void *__wrap_calloc(size_t n, size_t size) { return fails() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t size) { return fails() ? NULL : __real_realloc(p, size); }
char *__wrap_strdup(const char *s) { return fails() ? NULL : __real_strdup(s); }
char *__wrap_strndup(const char *s, size_t n) { return fails() ? NULL : __real_strndup(s, n); }

static void write_count(void)
{
	FILE *f = fopen(count_file, "w");
	if (f) {
		fprintf(f, "%lu\n", atomic_load(&count));
		fclose(f);
	}
}

__attribute__((constructor)) static void failalloc_init(void)
{
	const char *n = getenv("STOWAGE_FAIL_ALLOC");
	fail_at = n ? strtoul(n, NULL, 10) : 0;
	count_file = getenv("STOWAGE_ALLOC_COUNT");
	if (count_file)
		atexit(write_count);
	json_set_alloc_funcs(__wrap_malloc, free);
}
