/*
 * The compressed-blob cache (lib/blob_cache.c): a synthesised layer is
 * kept under its digest, served back without reading its tree, refused
 * when its size or content is not what its name says (and a corrupt one
 * deleted), evicted least recently used first under the cap, off with a
 * cap of 0 or an uncompressed layer, and never a failure when it cannot be
 * written.
 */
#include "harness.h"
#include "test_support.h"

#include "blob_cache.h"
#include "digest.h"

#include <sys/stat.h>
#include <time.h>

/* scratch_dir()/rel for as long as the test runs. */
static const char *kept(char buf[4400], const char *rel)
{
	snprintf(buf, 4400, "%s/%s", scratch_dir(), rel);
	return buf;
}

static char tree_dir[4400], cache_dir[4400];

/* What every test works on: the cache, the layer of scratch/tree, and
 * the last compute's digests and whether the cache served it. */
static struct blob_cache c;
static struct stw_layer l;
static struct stw_layer_path lp;
static struct layer_digests d;
static int from_cache;

/* Sets l to a layer of the directory scratch/tree (a file of pseudo-random
 * bytes, so the blob is not tiny), compressed as kind; c to scratch/cache
 * with room for 1 GiB. */
static void tree_layer(enum stw_compression kind)
{
	static unsigned char data[200000];
	unsigned int x = 12345;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 24) & 0x3f;
	make_dir(at("tree"), 0755);
	make_file(at("tree/data"), data, sizeof(data), 0644);
	memset(&l, 0, sizeof(l));
	memset(&lp, 0, sizeof(lp));
	lp.path = (char *)kept(tree_dir, "tree");
	l.paths = &lp;
	l.path_count = 1;
	l.compression = kind;
	c = (struct blob_cache){ kept(cache_dir, "cache"), 1 << 30 };
	from_cache = -1;
}

static int compute(enum blob_cache_mode mode, struct sink *out)
{
	return blob_cache_compute(&c, mode, &l, out, &d, &from_cache);
}

/* Records in layer the digests a synthesis gave (what stw_build does). */
static void record(struct stw_layer *layer, const struct layer_digests *got)
{
	memcpy(layer->digest, got->digest, sizeof(layer->digest));
	memcpy(layer->diff_id, got->diff_id, sizeof(layer->diff_id));
	layer->size = got->size;
	layer->tar_size = got->tar_size;
}

static const char *blob_file(const char *digest)
{
	static char path[4500];
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", c.dir, digest + 7);
	return path;
}

static void file_digest(char out[72], const char *path)
{
	struct buf b;
	buf_init(&b);
	CHECK_OK(buf_read_file(&b, path, 1 << 24));
	CHECK_OK(sha256_digest(out, b.data, b.len));
	buf_release(&b);
}

/* Builds the layer into a fresh cache and records its digests in l. */
static void fill(enum stw_compression kind)
{
	tree_layer(kind);
	CHECK_OK(compute(BLOB_CACHE_FILL, NULL));
	CHECK_EQ_INT(from_cache, 0);
	record(&l, &d);
}

TEST(build_writes_the_blob)
{
	struct stat st;
	char digest[72];

	fill(STW_COMPRESSION_GZIP);
	CHECK_OK(stat(blob_file(l.digest), &st));
	CHECK_EQ_INT(st.st_size, l.size);
	file_digest(digest, blob_file(l.digest));
	CHECK_EQ_STR(digest, l.digest);
	CHECK_OK(stat(at("cache/blobs/sha256"), &st));
	CHECK_EQ_INT(st.st_mode & 0777, 0700);
	CHECK_OK(stat(at("cache/blobs"), &st));
	CHECK_EQ_INT(st.st_mode & 0777, 0700);
}

TEST(hit_reads_no_tree)
{
	struct hash_sink h;

	fill(STW_COMPRESSION_ZSTD);
	CHECK_OK(unlink(at("tree/data")));
	CHECK_OK(rmdir(at("tree")));
	CHECK_OK(hash_sink_init(&h, NULL));
	CHECK_OK(compute(BLOB_CACHE_STREAM, &h.base));
	CHECK_EQ_INT(from_cache, 1);
	CHECK_EQ_STR(h.digest, l.digest);
	CHECK_EQ_INT(h.bytes, l.size);
	CHECK_EQ_STR(d.digest, l.digest);
	CHECK_EQ_STR(d.diff_id, l.diff_id);
	hash_sink_release(&h);
	CHECK_OK(blob_cache_write_verified(&c, &l, NULL));
}

TEST(size_mismatch_is_a_miss)
{
	FILE *f;

	fill(STW_COMPRESSION_GZIP);
	CHECK((f = fopen(blob_file(l.digest), "a")));
	fputc('x', f);
	fclose(f);
	CHECK_OK(compute(BLOB_CACHE_STREAM, NULL));
	CHECK_EQ_INT(from_cache, 0);
	CHECK_EQ_STR(d.digest, l.digest);
	/* the synthesis replaced it with the right blob */
	CHECK_OK(compute(BLOB_CACHE_STREAM, NULL));
	CHECK_EQ_INT(from_cache, 1);
}

/* One byte of the cached blob inverted, its size kept. */
static void corrupt(const char *path)
{
	int fd = open(path, O_RDWR);
	unsigned char byte;

	CHECK(fd >= 0);
	CHECK_EQ_INT(pread(fd, &byte, 1, 100), 1);
	byte ^= 0xff;
	CHECK_EQ_INT(pwrite(fd, &byte, 1, 100), 1);
	close(fd);
}

TEST(corrupt_blob_is_detected_and_removed)
{
	struct hash_sink h;
	char digest[72];

	fill(STW_COMPRESSION_GZIP);
	/* streaming: the digests tell the caller, and the file is gone */
	corrupt(blob_file(l.digest));
	CHECK_OK(compute(BLOB_CACHE_STREAM, NULL));
	CHECK_EQ_INT(from_cache, 1);
	CHECK(strcmp(d.digest, l.digest) != 0);
	CHECK(access(blob_file(l.digest), F_OK) != 0);
	/* the next call synthesises (and keeps the right blob again) */
	CHECK_OK(compute(BLOB_CACHE_STREAM, NULL));
	CHECK_EQ_INT(from_cache, 0);
	CHECK_EQ_STR(d.digest, l.digest);
	/* verify-first: out only ever gets the right bytes */
	corrupt(blob_file(l.digest));
	CHECK_OK(hash_sink_init(&h, NULL));
	CHECK_OK(blob_cache_write_verified(&c, &l, &h.base));
	CHECK_EQ_STR(h.digest, l.digest);
	CHECK_EQ_INT(h.bytes, l.size);
	hash_sink_release(&h);
	file_digest(digest, blob_file(l.digest));
	CHECK_EQ_STR(digest, l.digest);
}

/* scratch/cache/blobs/sha256/<64 times ch>: a fake blob's name. */
static const char *fake_blob(char ch)
{
	char name[128];
	int n = snprintf(name, sizeof(name), "cache/blobs/sha256/");
	memset(name + n, ch, 64);
	name[n + 64] = 0;
	return at(name);
}

static void set_age(const char *path, time_t age)
{
	struct timespec times[2] = { { time(NULL) - age, 0 }, { time(NULL) - age, 0 } };
	CHECK_OK(utimensat(AT_FDCWD, path, times, 0));
}

/* A fake blob of size bytes last used `age` seconds ago. */
static void old_blob(char ch, size_t size, time_t age)
{
	static char data[1000];
	make_file(fake_blob(ch), data, size, 0644);
	set_age(fake_blob(ch), age);
}

static int has_blob(char ch)
{
	return access(fake_blob(ch), F_OK) == 0;
}

TEST(eviction_is_least_recently_used_first)
{
	fill(STW_COMPRESSION_GZIP);
	set_age(blob_file(l.digest), 500);
	old_blob('a', 1000, 400);
	old_blob('b', 1000, 300);
	old_blob('c', 1000, 200);
	make_file(at("cache/blobs/sha256/incoming.1.2.tmp"), "x", 1, 0644); /* another writer's: kept */
	/* a read makes the oldest blob the most recently used */
	CHECK_OK(compute(BLOB_CACHE_STREAM, NULL));
	CHECK_EQ_INT(from_cache, 1);
	c.max_bytes = l.size + 2000;
	blob_cache_evict(&c);
	CHECK(!has_blob('a'));
	CHECK(has_blob('b') && has_blob('c'));
	CHECK(access(blob_file(l.digest), F_OK) == 0);
	CHECK(access(at("cache/blobs/sha256/incoming.1.2.tmp"), F_OK) == 0);
	/* unread for longest, it goes first */
	set_age(blob_file(l.digest), 500);
	c.max_bytes = l.size + 1000;
	blob_cache_evict(&c);
	CHECK(access(blob_file(l.digest), F_OK) != 0);
	CHECK(has_blob('b') && has_blob('c'));
	/* a temporary left by a crash a day ago is removed */
	set_age(at("cache/blobs/sha256/incoming.1.2.tmp"), 2 * 24 * 3600);
	blob_cache_evict(&c);
	CHECK(access(at("cache/blobs/sha256/incoming.1.2.tmp"), F_OK) != 0);
}

TEST(a_new_blob_evicts_older_ones)
{
	tree_layer(STW_COMPRESSION_GZIP);
	make_dir(at("cache"), 0700);
	make_dir(at("cache/blobs"), 0700);
	make_dir(at("cache/blobs/sha256"), 0700);
	old_blob('a', 1000, 400);
	old_blob('b', 1000, 300);
	CHECK_OK(compute(BLOB_CACHE_FILL, NULL));
	CHECK(has_blob('a') && has_blob('b'));
	/* a cap that holds the new blob and one more: a goes */
	c.max_bytes = d.size + 1000;
	CHECK_OK(unlink(blob_file(d.digest)));
	CHECK_OK(compute(BLOB_CACHE_FILL, NULL));
	CHECK(!has_blob('a') && has_blob('b'));
	CHECK(access(blob_file(d.digest), F_OK) == 0);
	/* a blob bigger than the cap is not kept at all */
	CHECK_OK(unlink(blob_file(d.digest)));
	c.max_bytes = d.size - 1;
	CHECK_OK(compute(BLOB_CACHE_FILL, NULL));
	CHECK(access(blob_file(d.digest), F_OK) != 0);
	CHECK(has_blob('b'));
}

TEST(cap_zero_and_uncompressed_are_not_cached)
{
	tree_layer(STW_COMPRESSION_GZIP);
	c.max_bytes = 0;
	CHECK_OK(compute(BLOB_CACHE_FILL, NULL));
	CHECK(access(at("cache"), F_OK) != 0);
	c.max_bytes = 1 << 30;
	l.compression = STW_COMPRESSION_NONE;
	CHECK_OK(compute(BLOB_CACHE_FILL, NULL));
	CHECK(access(at("cache"), F_OK) != 0);
	/* NULL: no cache at all */
	l.compression = STW_COMPRESSION_GZIP;
	CHECK_OK(blob_cache_compute(NULL, BLOB_CACHE_STREAM, &l, NULL, &d, &from_cache));
	CHECK_EQ_INT(from_cache, 0);
}

TEST(failure_to_write_is_not_an_error)
{
	struct stw_layer want;
	struct hash_sink h;

	tree_layer(STW_COMPRESSION_GZIP);
	c.dir = kept(cache_dir, "not-a-dir/cache");
	CHECK_OK(layer_compute(&l, NULL, &d));
	want = l;
	record(&want, &d);
	make_file(at("not-a-dir"), "file", 4, 0644);
	CHECK_OK(hash_sink_init(&h, NULL));
	CHECK_OK(compute(BLOB_CACHE_FILL, &h.base));
	CHECK_EQ_STR(d.digest, want.digest);
	CHECK_EQ_STR(h.digest, want.digest);
	hash_sink_release(&h);
	CHECK_OK(blob_cache_write_verified(&c, &want, NULL));
	/* blobs/sha256 taken by a file: the same */
	c.dir = kept(cache_dir, "cache2");
	make_dir(at("cache2"), 0700);
	make_dir(at("cache2/blobs"), 0700);
	make_file(at("cache2/blobs/sha256"), "file", 4, 0644);
	CHECK_OK(blob_cache_write_verified(&c, &want, NULL));
}

int main(void)
{
	return run_tests(TESTS(ENTRY(build_writes_the_blob), ENTRY(hit_reads_no_tree), ENTRY(size_mismatch_is_a_miss),
			       ENTRY(corrupt_blob_is_detected_and_removed),
			       ENTRY(eviction_is_least_recently_used_first), ENTRY(a_new_blob_evicts_older_ones),
			       ENTRY(cap_zero_and_uncompressed_are_not_cached), ENTRY(failure_to_write_is_not_an_error)));
}
