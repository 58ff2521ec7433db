#include "curl_global.h"
#include "error.h"

#include <curl/curl.h>
#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode init_result;

static void init(void)
{
	init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int stw_curl_init(void)
{
	pthread_once(&once, init);
	return init_result == CURLE_OK ? 0 : stw_error("cannot initialise libcurl");
}
