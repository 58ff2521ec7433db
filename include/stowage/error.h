/*
 * Errors: every libstowage function returns 0 on success or -1 on failure
 * and records one message, read with stw_error_last(). The message is
 * thread-local and owned by the library; it stays valid until the next
 * failing call on the same thread.
 */
#ifndef STOWAGE_ERROR_H
#define STOWAGE_ERROR_H

/* The message of the last failure on this thread, or "" if none. */
const char *stw_error_last(void);

#endif
