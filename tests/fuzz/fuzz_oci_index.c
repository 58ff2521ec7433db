/* An existing OCI layout's index.json, which a copy to oci:DIR:TAG rewrites. */
#include "fuzz.h"
#include "oci_layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char digest[] = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char *existing = fuzz_string(data, size), *out = NULL;

	if (oci_index_json(&out, existing, digest, 1234, "fuzz") == 0) {
		free(out);
		out = NULL;
	}
	if (oci_index_json(&out, existing, digest, 1234, NULL) == 0)
		free(out);
	free(existing);
	return 0;
}
