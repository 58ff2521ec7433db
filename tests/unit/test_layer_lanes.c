/* Layers hashed two a thread (lib/layer_lanes.c) and read through the
 * pull stream (lib/layer_stream.c) give exactly the digests of
 * layer_compute, whatever the number of layers and threads, for trees
 * that end on a buffer boundary, sparse files, empty layers and PAX
 * names. */
#include "harness.h"

#include "layer_lanes.h"
#include "layer_tar.h"
#include "sha256_lanes.h"

#define TREES 6

static void make_sized(const char *path, size_t size, unsigned seed)
{
	char *d = malloc(size ? size : 1);
	CHECK(d);
	for (size_t i = 0; i < size; i++)
		d[i] = (char)((i * 31 + seed) % 251);
	make_file(path, d, size, 0644);
	free(d);
}

/* t0: many small files; t1: a tar of exactly 256 KiB (a read-buffer
 * boundary); t2: a sparse file with
 * data between holes; t3: an empty directory; t4: a long name (PAX) and
 * a symlink; t5: a 1 MiB file. */
static void make_trees(void)
{
	char name[64];
	int fd;

	make_dir(at("t0"), 0755);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "t0/f%03d", i);
		make_sized(at(name), (size_t)(i * 97 % 3000), (unsigned)i);
	}
	make_dir(at("t1"), 0755);
	make_sized(at("t1/exact"), 262144 - 4 * 512 - 1024, 1); /* nix/, nix/store/, the tree, the file */
	make_dir(at("t2"), 0755);
	fd = open(at("t2/sparse"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, "data in the middle", 18, 3 << 20) == 18);
	CHECK(ftruncate(fd, 9 << 20) == 0);
	close(fd);
	make_dir(at("t3"), 0755);
	make_dir(at("t4"), 0755);
	make_sized(at("t4/a-name-that-is-much-longer-than-the-hundred-bytes-that-a-ustar-header-holds-so-it-needs-pax-x"),
		   5000, 4);
	CHECK(symlink("target", at("t4/link")) == 0);
	make_dir(at("t5"), 0755);
	make_sized(at("t5/big"), 1 << 20, 5);
}

struct fixture {
	struct stw_layer layers[TREES];
	struct stw_layer_path paths[TREES];
	char regex[TREES][4500];
	const struct stw_layer *list[TREES];
};

static void make_layers(struct fixture *f)
{
	char name[16];

	memset(f, 0, sizeof(*f));
	for (int i = 0; i < TREES; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		snprintf(f->regex[i], sizeof(f->regex[i]), "^%s", at(name));
		f->paths[i].path = strdup(at(name));
		f->paths[i].rewrite_regex = f->regex[i];
		f->paths[i].rewrite_repl = "/nix/store/00000000000000000000000000000000-t";
		f->layers[i].paths = &f->paths[i];
		f->layers[i].path_count = 1;
		f->layers[i].compression = STW_COMPRESSION_NONE;
		f->list[i] = &f->layers[i];
	}
}

static void release_layers(struct fixture *f)
{
	for (int i = 0; i < TREES; i++)
		free(f->paths[i].path);
}

TEST(lanes_equal_layer_compute)
{
	struct fixture f;
	struct layer_digests want[TREES], got[TREES];

	if (!sha256_lanes_available()) {
		test_note("no SHA-NI on this CPU: the lanes are not used here");
		return;
	}
	make_trees();
	make_layers(&f);
	for (int i = 0; i < TREES; i++)
		CHECK_OK(layer_compute(&f.layers[i], NULL, &want[i]));
	CHECK_EQ_INT(want[1].tar_size, 262144);
	for (size_t count = 1; count <= TREES; count++)
		for (int jobs = 1; jobs <= 3; jobs++) {
			memset(got, 0, sizeof(got));
			CHECK_OK(layer_lanes_digests(f.list, count, jobs, got));
			for (size_t i = 0; i < count; i++) {
				CHECK_EQ_STR(got[i].diff_id, want[i].diff_id);
				CHECK_EQ_STR(got[i].digest, want[i].digest);
				CHECK_EQ_INT(got[i].tar_size, want[i].tar_size);
				CHECK_EQ_INT(got[i].size, want[i].size);
			}
		}
	release_layers(&f);
}

/* A layer that cannot be read fails the call with its error, whatever
 * the others do. */
TEST(a_failing_layer_fails_all)
{
	struct fixture f;
	struct layer_digests got[TREES];

	if (!sha256_lanes_available()) {
		test_note("no SHA-NI on this CPU: the lanes are not used here");
		return;
	}
	make_trees();
	make_layers(&f);
	free(f.paths[3].path);
	f.paths[3].path = strdup(at("missing"));
	CHECK_FAILS(layer_lanes_digests(f.list, TREES, 2, got), "missing");
	release_layers(&f);
}

int main(void)
{
	return run_tests(TESTS(ENTRY(lanes_equal_layer_compute), ENTRY(a_failing_layer_fails_all)));
}
