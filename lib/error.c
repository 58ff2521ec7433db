#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *stw_error_last(void)
{
	return last_error;
}

static void record(const char *fmt, va_list ap, const char *suffix)
{
	int n = vsnprintf(last_error, sizeof(last_error), fmt, ap);
	if (suffix && n >= 0 && (size_t)n < sizeof(last_error))
		snprintf(last_error + n, sizeof(last_error) - (size_t)n, ": %s", suffix);
}

int stw_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	record(fmt, ap, NULL);
	va_end(ap);
	return -1;
}

int stw_error_errno(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	record(fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
	return -1;
}

int stw_error_wrap(const char *fmt, ...)
{
	char previous[sizeof(last_error)];
	va_list ap;

	memcpy(previous, last_error, sizeof(previous));
	va_start(ap, fmt);
	record(fmt, ap, previous);
	va_end(ap);
	return -1;
}
