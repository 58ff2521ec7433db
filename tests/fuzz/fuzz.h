/*
 * Shared by the fuzz targets in tests/fuzz/: each fuzz_<name>.c defines
 * LLVMFuzzerTestOneInput for one parser of outside input. The same file
 * links either with libFuzzer (clang -fsanitize=fuzzer, `make fuzz`) or
 * with replay.c (gcc + ASan/UBSan, `make check`), which feeds it every
 * file of tests/fuzz/corpus/<name>/.
 */
#ifndef STW_FUZZ_H
#define STW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data as a NUL-terminated string (cut at the first NUL); caller frees. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

#endif
