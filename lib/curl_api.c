#define STW_CURL_API_IMPL
#include "curl_api.h"
#include "error.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* The library the build compiled against (its absolute path, so a Nix
 * build finds its own curl without an RPATH); the soname as a fallback. */
#ifndef STW_LIBCURL_PATH
#define STW_LIBCURL_PATH "libcurl.so.4"
#endif

/* Stand-ins for an unloadable libcurl: every constructor fails, every
 * release is a no-op, every operation reports failure. */
static CURLcode no_global_init(long flags) { (void)flags; return CURLE_FAILED_INIT; }
static CURL *no_easy_init(void) { return NULL; }
static void no_easy_cleanup(CURL *h) { (void)h; }
static CURLcode no_easy_setopt(CURL *h, CURLoption o, ...) { (void)h; (void)o; return CURLE_FAILED_INIT; }
static CURLcode no_easy_getinfo(CURL *h, CURLINFO i, ...) { (void)h; (void)i; return CURLE_FAILED_INIT; }
static CURLcode no_easy_perform(CURL *h) { (void)h; return CURLE_FAILED_INIT; }
static void no_easy_reset(CURL *h) { (void)h; }
static CURLcode no_easy_pause(CURL *h, int b) { (void)h; (void)b; return CURLE_FAILED_INIT; }
static const char *no_easy_strerror(CURLcode c) { (void)c; return "libcurl could not be loaded"; }
static char *no_easy_escape(CURL *h, const char *s, int n) { (void)h; (void)s; (void)n; return NULL; }
static void no_free(void *p) { (void)p; }
static CURLM *no_multi_init(void) { return NULL; }
static CURLMcode no_multi_add_handle(CURLM *m, CURL *h) { (void)m; (void)h; return CURLM_BAD_HANDLE; }
static CURLMcode no_multi_remove_handle(CURLM *m, CURL *h) { (void)m; (void)h; return CURLM_BAD_HANDLE; }
static CURLMcode no_multi_cleanup(CURLM *m) { (void)m; return CURLM_OK; }
static CURLMsg *no_multi_info_read(CURLM *m, int *left) { (void)m; if (left) *left = 0; return NULL; }
static CURLMcode no_multi_perform(CURLM *m, int *running) { (void)m; if (running) *running = 0; return CURLM_BAD_HANDLE; }
static const char *no_multi_strerror(CURLMcode c) { (void)c; return "libcurl could not be loaded"; }
static CURLMcode no_multi_wait(CURLM *m, struct curl_waitfd fds[], unsigned n, int ms, int *ready)
{
	(void)m; (void)fds; (void)n; (void)ms;
	if (ready)
		*ready = 0;
	return CURLM_BAD_HANDLE;
}
static struct curl_slist *no_slist_append(struct curl_slist *l, const char *s) { (void)l; (void)s; return NULL; }
static void no_slist_free_all(struct curl_slist *l) { (void)l; }
static CURLU *no_url(void) { return NULL; }
static void no_url_cleanup(CURLU *u) { (void)u; }
/* curl_url_get's handle became const in libcurl 8: the stand-in takes
 * either (an unloaded table never holds a handle to pass it anyway). */
static CURLUcode no_url_get(const CURLU *u, CURLUPart p, char **out, unsigned f)
{
	(void)u; (void)p; (void)f;
	if (out)
		*out = NULL;
	return CURLUE_BAD_HANDLE;
}
static CURLUcode no_url_set(CURLU *u, CURLUPart p, const char *s, unsigned f)
{
	(void)u; (void)p; (void)s; (void)f;
	return CURLUE_BAD_HANDLE;
}

static const struct stw_curl_api unloaded = {
#define STUB(field, symbol) .field = (__typeof__(symbol) *)(void (*)(void))no_##field,
	STW_CURL_FUNCTIONS(STUB)
#undef STUB
};

static struct stw_curl_api loaded;
static const struct stw_curl_api *table = &unloaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[512];

static int resolve(void *lib)
{
#define RESOLVE(field, symbol)                                                                                   \
	if (!(*(void **)&loaded.field = dlsym(lib, #symbol))) {                                                  \
		snprintf(load_error, sizeof(load_error), "libcurl has no %s", #symbol);                          \
		return -1;                                                                                       \
	}
	STW_CURL_FUNCTIONS(RESOLVE)
#undef RESOLVE
	return 0;
}

static void load(void)
{
	void *lib = dlopen(STW_LIBCURL_PATH, RTLD_NOW | RTLD_LOCAL);
	const char *why;

	if (!lib)
		lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		why = dlerror();
		snprintf(load_error, sizeof(load_error), "%s", why ? why : "not found");
		return;
	}
	if (resolve(lib) < 0)
		return; /* kept loaded: dlclose of a half-used library buys nothing */
	if (loaded.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(load_error, sizeof(load_error), "curl_global_init failed");
		return;
	}
	table = &loaded;
}

const struct stw_curl_api *stw_curl(void)
{
	pthread_once(&once, load);
	return table;
}

int stw_curl_init(void)
{
	if (stw_curl() == &unloaded)
		return stw_error("cannot load libcurl, which registry and daemon transfers need: %s", load_error);
	return 0;
}
