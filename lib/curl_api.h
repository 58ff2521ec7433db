/*
 * libcurl, loaded when the first registry or daemon request needs it.
 *
 * Why not link it: libcurl's dependencies (gnutls through libldap and
 * librtmp, krb5, libssh2, ...) run constructors at load time, and loading
 * them cost 5 ms of CPU on every run, a third of a warm `stowage build`,
 * which never talks to a registry (measured: a hello linked with libcurl
 * 6.2 ms task-clock against 1.2 ms without; `stowage --help` 5.9 ms).
 *
 * Files that call libcurl include this header instead of <curl/curl.h>:
 * the curl_* names below become calls through a table filled by dlopen.
 * If libcurl cannot be loaded, stw_curl_init() says why, and the table
 * holds stand-ins that fail (NULL, an error code), so no call crashes.
 */
#ifndef STW_LIB_CURL_API_H
#define STW_LIB_CURL_API_H

#include <curl/curl.h>

/* field, libcurl symbol */
#define STW_CURL_FUNCTIONS(X)                                                                                    \
	X(global_init, curl_global_init)                                                                         \
	X(easy_init, curl_easy_init)                                                                             \
	X(easy_cleanup, curl_easy_cleanup)                                                                       \
	X(easy_setopt, curl_easy_setopt)                                                                         \
	X(easy_getinfo, curl_easy_getinfo)                                                                       \
	X(easy_perform, curl_easy_perform)                                                                       \
	X(easy_reset, curl_easy_reset)                                                                           \
	X(easy_pause, curl_easy_pause)                                                                           \
	X(easy_strerror, curl_easy_strerror)                                                                     \
	X(easy_escape, curl_easy_escape)                                                                         \
	X(free, curl_free)                                                                                       \
	X(multi_init, curl_multi_init)                                                                           \
	X(multi_add_handle, curl_multi_add_handle)                                                               \
	X(multi_remove_handle, curl_multi_remove_handle)                                                         \
	X(multi_cleanup, curl_multi_cleanup)                                                                     \
	X(multi_info_read, curl_multi_info_read)                                                                 \
	X(multi_perform, curl_multi_perform)                                                                     \
	X(multi_strerror, curl_multi_strerror)                                                                   \
	X(multi_wait, curl_multi_wait)                                                                           \
	X(slist_append, curl_slist_append)                                                                       \
	X(slist_free_all, curl_slist_free_all)                                                                   \
	X(url, curl_url)                                                                                         \
	X(url_cleanup, curl_url_cleanup)                                                                         \
	X(url_get, curl_url_get)                                                                                 \
	X(url_set, curl_url_set)

struct stw_curl_api {
#define STW_CURL_FIELD(field, symbol) __typeof__(symbol) *field;
	STW_CURL_FUNCTIONS(STW_CURL_FIELD)
#undef STW_CURL_FIELD
};

/* Loads libcurl and runs curl_global_init once; 0, or -1 with the error
 * set (not loadable, or its initialisation failed). */
int stw_curl_init(void);

/* The table: libcurl's functions once loaded, else the failing stand-ins.
 * Loads on first use, so a call without stw_curl_init() works too. */
const struct stw_curl_api *stw_curl(void);

#ifndef STW_CURL_API_IMPL
/* curl.h's type-checking wrappers are macros of these names */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init(...) (stw_curl()->global_init(__VA_ARGS__))
#define curl_easy_init() (stw_curl()->easy_init())
#define curl_easy_cleanup(...) (stw_curl()->easy_cleanup(__VA_ARGS__))
#define curl_easy_setopt(...) (stw_curl()->easy_setopt(__VA_ARGS__))
#define curl_easy_getinfo(...) (stw_curl()->easy_getinfo(__VA_ARGS__))
#define curl_easy_perform(...) (stw_curl()->easy_perform(__VA_ARGS__))
#define curl_easy_reset(...) (stw_curl()->easy_reset(__VA_ARGS__))
#define curl_easy_pause(...) (stw_curl()->easy_pause(__VA_ARGS__))
#define curl_easy_strerror(...) (stw_curl()->easy_strerror(__VA_ARGS__))
#define curl_easy_escape(...) (stw_curl()->easy_escape(__VA_ARGS__))
#define curl_free(...) (stw_curl()->free(__VA_ARGS__))
#define curl_multi_init() (stw_curl()->multi_init())
#define curl_multi_add_handle(...) (stw_curl()->multi_add_handle(__VA_ARGS__))
#define curl_multi_remove_handle(...) (stw_curl()->multi_remove_handle(__VA_ARGS__))
#define curl_multi_cleanup(...) (stw_curl()->multi_cleanup(__VA_ARGS__))
#define curl_multi_info_read(...) (stw_curl()->multi_info_read(__VA_ARGS__))
#define curl_multi_perform(...) (stw_curl()->multi_perform(__VA_ARGS__))
#define curl_multi_strerror(...) (stw_curl()->multi_strerror(__VA_ARGS__))
#define curl_multi_wait(...) (stw_curl()->multi_wait(__VA_ARGS__))
#define curl_slist_append(...) (stw_curl()->slist_append(__VA_ARGS__))
#define curl_slist_free_all(...) (stw_curl()->slist_free_all(__VA_ARGS__))
#define curl_url() (stw_curl()->url())
#define curl_url_cleanup(...) (stw_curl()->url_cleanup(__VA_ARGS__))
#define curl_url_get(...) (stw_curl()->url_get(__VA_ARGS__))
#define curl_url_set(...) (stw_curl()->url_set(__VA_ARGS__))
#endif

#endif
