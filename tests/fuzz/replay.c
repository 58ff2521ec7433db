/*
 * Replays fuzz inputs through a target's LLVMFuzzerTestOneInput without
 * libFuzzer: `replay FILE|DIR...` runs every regular file (a directory's
 * files in sorted order) once and prints "ok N - replay PATH" for each, so
 * the corpora run as ordinary tests under gcc with ASan/UBSan (with no
 * argument: FUZZ_CORPUS, the target's corpus). A crash or
 * a sanitizer report ends the process, which tests/run.sh counts as a
 * failure.
 */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

static int n;

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0, got;

	if (!f) {
		printf("not ok %d - replay %s: cannot open\n", ++n, path);
		return -1;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if (!(data = realloc(data, cap)))
				abort();
		}
		got = fread(data + len, 1, cap - len, f);
		len += got;
	} while (got);
	fclose(f);
	/* an exact-size copy, so ASan sees any read past the input */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact)
		abort();
	memcpy(exact, data, len);
	free(data);
	fflush(stdout);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	printf("ok %d - replay %s\n", ++n, path);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay(const char *path)
{
	struct dirent **names;
	struct stat st;
	int count, bad = 0;

	if (stat(path, &st) < 0) {
		printf("not ok %d - replay %s: missing\n", ++n, path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	count = scandir(path, &names, NULL, by_name);
	if (count < 0)
		return -1;
	for (int i = 0; i < count; i++) {
		char child[4096];
		if (names[i]->d_name[0] != '.') {
			snprintf(child, sizeof(child), "%s/%s", path, names[i]->d_name);
			if (stat(child, &st) == 0 && S_ISREG(st.st_mode) && replay_file(child) < 0)
				bad = 1;
		}
		free(names[i]);
	}
	free(names);
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	int bad = 0;
#ifdef FUZZ_CORPUS
	if (argc < 2)
		return replay(FUZZ_CORPUS) < 0 || !n;
#endif
	for (int i = 1; i < argc; i++)
		if (replay(argv[i]) < 0)
			bad = 1;
	if (!n)
		printf("not ok 1 - replay: no inputs\n");
	return bad || !n;
}
