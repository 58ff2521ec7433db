/* The docker config / auth file (auths, credHelpers, credsStore), looked up
 * for a few hosts. Credential helpers are not run: PATH names an empty
 * place, so a helper the input names is simply not found. */
#include "credentials.h"
#include "fuzz.h"

#include <stdio.h>
#include <unistd.h>

static char path[64];

static void once(void)
{
	int fd;
	if (path[0])
		return;
	setenv("PATH", "/nonexistent-stowage-fuzz", 1);
	snprintf(path, sizeof(path), "/tmp/stowage-fuzz-config.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = { "docker.io", "127.0.0.1:5000", "ghcr.io", "registry.example.com" };
	FILE *f;

	once();
	if (!(f = fopen(path, "wb")) || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		struct registry_credentials c;
		char *basic = NULL;
		int found = 0;
		if (credentials_lookup(&c, &found, path, hosts[i]) == 0 && found) {
			if (credentials_basic_header(&basic, &c) == 0)
				free(basic);
		}
		registry_credentials_release(&c);
	}
	return 0;
}
