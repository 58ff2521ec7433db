/* Internal: recording the thread's last error (see stowage/error.h). */
#ifndef STW_LIB_ERROR_H
#define STW_LIB_ERROR_H

#include "stowage/error.h"

/* Records a printf-style message and returns -1, so callers can write
 * `return stw_error("...")`. */
int stw_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like stw_error, with ": strerror(errno)" appended. */
int stw_error_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prefixes the current message with a printf-style context. Returns -1. */
int stw_error_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
