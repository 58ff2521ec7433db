/* Image references and tags from the command line and from index children. */
#include "fuzz.h"
#include "manifest.h"
#include "registry_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size), *name = NULL, *tag = NULL;
	struct registry_ref r;

	if (registry_ref_parse(&r, text) == 0) {
		if (!r.host || !r.repo)
			abort();
		registry_api_host(r.host);
		registry_host_is_loopback(r.host);
		if (r.tag && !registry_tag_valid(r.tag))
			abort();
		registry_ref_release(&r);
	}
	registry_tag_valid(text);
	if (reference_split(&name, &tag, text) == 0) {
		free(name);
		free(tag);
	}
	free(text);
	return 0;
}
