/*
 * What a registry answers, besides the WWW-Authenticate challenge (its own
 * target): the first line is a Location header resolved against an upload
 * URL; the rest is a response body, read as a registry error and as a
 * manifest or index the way inspect/index read them (the config digest
 * they would fetch next must be a valid digest).
 */
#include "digest.h"
#include "fuzz.h"
#include "http.h"
#include "registry.h"

#include <jansson.h>

static void manifest_fields(const char *body, size_t len)
{
	json_t *m = json_loadb(body, len, 0, NULL);
	const char *cd = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
	json_t *list = json_object_get(m, "manifests"), *entry;
	size_t i;

	if (cd)
		digest_is_valid(cd);
	json_array_foreach(list, i, entry) {
		const char *d = json_string_value(json_object_get(entry, "digest"));
		if (d)
			digest_is_valid(d);
	}
	json_decref(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t head = nl ? (size_t)(nl - data) : size;
	char *location = fuzz_string(data, head), *resolved = NULL, why[300];
	struct http_response resp;

	if (http_resolve_location(&resolved, "http://127.0.0.1:5000/v2/fd/blobs/uploads/", location) == 0)
		free(resolved);
	http_response_init(&resp);
	resp.status = 400;
	if (nl && buf_add(&resp.body, (const char *)nl + 1, size - head - 1) < 0)
		abort();
	registry_error_text(why, sizeof(why), &resp);
	manifest_fields(resp.body.data, resp.body.len);
	http_response_release(&resp);
	free(location);
	return 0;
}
