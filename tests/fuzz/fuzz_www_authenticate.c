/* WWW-Authenticate challenges, as a registry (or anything on the path) sends them. */
#include "fuzz.h"
#include "www_authenticate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_challenge c = { 0 };
	char *header = fuzz_string(data, size);

	if (auth_challenge_parse(&c, header) == 0 && !c.scheme)
		abort();
	auth_challenge_release(&c);
	free(header);
	return 0;
}
