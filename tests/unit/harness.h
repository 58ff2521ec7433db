/*
 * A tiny unit-test harness. A test is `TEST(name) { CHECK(...); }`; main
 * lists them: `return run_tests(TESTS(ENTRY(a), ENTRY(b)));`. A failed check
 * records its file:line and ends that test (longjmp: what it allocated leaks,
 * which only matters once something is already wrong). Output is TAP-ish:
 * "ok N - name" / "not ok N - name" with diagnostics ("#   file:line: ...",
 * test_note()) under it, then "N passed, N failed"; the exit
 * status is 1 when any test failed. scratch_dir() gives the running test an
 * empty directory, removed (with what is in it) when the test ends.
 */
#ifndef STW_TEST_HARNESS_H
#define STW_TEST_HARNESS_H

#include "stowage/error.h"

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST(name) static void test_##name(void)
#define ENTRY(name) { #name, test_##name }
#define TESTS(...) (const struct test_case[]){ __VA_ARGS__ }, \
	sizeof((const struct test_case[]){ __VA_ARGS__ }) / sizeof(struct test_case)

static jmp_buf test_abort;
static char test_scratch[4096];
/* Diagnostics printed under the test's result line: the failed check
 * first, then test_note()s. Each line starts with '#', so no text can pass
 * for a result; what does not fit is dropped. */
struct test_text {
	char text[8192];
	size_t len;
};
static struct test_text test_failure, test_notes;

static inline void test_text_put(struct test_text *t, const char *s, size_t len)
{
	if (t->len + len + 2 <= sizeof(t->text)) {
		memcpy(t->text + t->len, s, len);
		t->len += len;
	}
}

static inline void test_text_add(struct test_text *t, const char *text)
{
	test_text_put(t, "#   ", 4);
	for (const char *p = text; *p; p++)
		test_text_put(t, *p == '\n' ? "\n#   " : p, *p == '\n' ? 5 : 1);
	if (t->len + 2 <= sizeof(t->text)) {
		t->text[t->len++] = '\n';
		t->text[t->len] = 0;
	}
}

static inline void test_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void test_note(const char *fmt, ...)
{
	char text[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	test_text_add(&test_notes, text);
}

static inline void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
static inline void test_fail(const char *file, int line, const char *fmt, ...)
{
	char text[8192];
	int n = snprintf(text, sizeof(text), "%s:%d: ", file, line);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	va_end(ap);
	test_text_add(&test_failure, text);
	longjmp(test_abort, 1);
}

#define CHECK(cond) \
	do { if (!(cond)) test_fail(__FILE__, __LINE__, "check failed: %s", #cond); } while (0)
#define CHECK_EQ_INT(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
} while (0)
#define CHECK_EQ_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (!a_ || !b_ || strcmp(a_, b_)) \
		test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
			  a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
} while (0)
/* For a call returning 0 on success and recording stw_error_last(). */
#define CHECK_OK(call) do { \
	if ((call) != 0) test_fail(__FILE__, __LINE__, "%s failed: %s", #call, stw_error_last()); \
} while (0)
/* A call that must fail with a message containing `substring`. */
#define CHECK_FAILS(call, substring) do { \
	if ((call) == 0) test_fail(__FILE__, __LINE__, "%s succeeded", #call); \
	if (!strstr(stw_error_last(), (substring))) \
		test_fail(__FILE__, __LINE__, "%s: message \"%s\" lacks \"%s\"", #call, \
			  stw_error_last(), (substring)); \
} while (0)

static inline int scratch_remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	chmod(path, 0700); /* a read-only directory from a test must still go */
	return remove(path);
}

/* The running test's scratch directory (created on first use). */
static inline const char *scratch_dir(void)
{
	if (!test_scratch[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(test_scratch, sizeof(test_scratch), "%s/stowage-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(test_scratch))
			test_fail(__FILE__, __LINE__, "cannot create a scratch directory");
	}
	return test_scratch;
}

/* scratch_dir()/rel (the directory itself for ""), in a ring of 16
 * buffers: a result lives until 16 more calls. */
static inline const char *at(const char *rel)
{
	static char paths[16][4400];
	static int next;
	char *p = paths[next++ % 16];
	snprintf(p, sizeof(paths[0]), "%s%s%s", scratch_dir(), *rel ? "/" : "", rel);
	return p;
}

/* Creates a file holding data with exactly this mode (umask aside). */
static inline void make_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) < 0 || chmod(path, mode) < 0)
		test_fail(__FILE__, __LINE__, "cannot create '%s'", path);
}

static inline void make_dir(const char *path, mode_t mode)
{
	if (mkdir(path, 0700) < 0 || chmod(path, mode) < 0)
		test_fail(__FILE__, __LINE__, "cannot create directory '%s'", path);
}

static inline int run_tests(const struct test_case *tests, size_t count)
{
	volatile size_t passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < count; i++) {
		volatile int ok = 0;
		if (!setjmp(test_abort)) {
			tests[i].fn();
			ok = 1;
		}
		if (test_scratch[0])
			nftw(test_scratch, scratch_remove_one, 16, FTW_DEPTH | FTW_PHYS);
		test_scratch[0] = 0;
		printf("%sok %zu - %s\n%s%s", ok ? "" : "not ", i + 1, tests[i].name, test_failure.text,
		       test_notes.text);
		test_failure.len = test_notes.len = 0;
		test_failure.text[0] = test_notes.text[0] = 0;
		if (ok)
			passed++;
		else
			failed++;
	}
	printf("%zu passed, %zu failed\n", (size_t)passed, (size_t)failed);
	return failed ? 1 : 0;
}

#endif
