/* libcurl's global state, initialised once whoever needs it first
 * (curl_global_init is not thread-safe on its own). */
#ifndef STW_LIB_CURL_GLOBAL_H
#define STW_LIB_CURL_GLOBAL_H

int stw_curl_init(void);

#endif
