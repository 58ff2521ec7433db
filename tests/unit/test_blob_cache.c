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

/* scratch_dir()/rel in a ring of static buffers (short-lived uses). */
static const char *at(const char *rel)
{
	static char paths[8][4400];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, sizeof(paths[0]), "%s/%s", scratch_dir(), rel);
	return p;
}

/* scratch_dir()/rel for as long as the test runs. */
static const char *kept(char buf[4400], const char *rel)
{
	snprintf(buf, 4400, "%s/%s", scratch_dir(), rel);
	return buf;
}

static char tree_dir[4400], cache_dir[4400];

/* A layer of the directory scratch/tree (a file of pseudo-random bytes,
 * so the blob is not tiny), compressed as kind. */
static void tree_layer(struct stw_layer *l, struct stw_layer_path *lp, enum stw_compression kind)
{
	static unsigned char data[200000];
	unsigned int x = 12345;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 24) & 0x3f;
	make_dir(at("tree"), 0755);
	make_file(at("tree/data"), data, sizeof(data), 0644);
	memset(l, 0, sizeof(*l));
	memset(lp, 0, sizeof(*lp));
	lp->path = (char *)kept(tree_dir, "tree");
	l->paths = lp;
	l->path_count = 1;
	l->compression = kind;
}

/* Records in l the digests a synthesis gives (what stw_build does). */
static void record(struct stw_layer *l, const struct layer_digests *d)
{
	memcpy(l->digest, d->digest, sizeof(l->digest));
	memcpy(l->diff_id, d->diff_id, sizeof(l->diff_id));
	l->size = d->size;
	l->tar_size = d->tar_size;
}

static const char *blob_file(const struct blob_cache *c, const char *digest)
{
	static char path[4500];
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", c->dir, digest + 7);
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

/* Builds the layer into a fresh cache: the blob and its digests. */
static void fill(struct blob_cache *c, struct stw_layer *l, struct stw_layer_path *lp, enum stw_compression kind)
{
	struct layer_digests d;
	int from_cache = -1;

	c->dir = kept(cache_dir, "cache");
	c->max_bytes = 1 << 30;
	tree_layer(l, lp, kind);
	CHECK_OK(blob_cache_compute(c, BLOB_CACHE_FILL, l, NULL, &d, &from_cache));
	CHECK_EQ_INT(from_cache, 0);
	record(l, &d);
}

TEST(build_writes_the_blob)
{
	struct blob_cache c;
	struct stw_layer l;
	struct stw_layer_path lp;
	struct stat st;
	char digest[72];

	fill(&c, &l, &lp, STW_COMPRESSION_GZIP);
	CHECK_OK(stat(blob_file(&c, l.digest), &st));
	CHECK_EQ_INT(st.st_size, l.size);
	file_digest(digest, blob_file(&c, l.digest));
	CHECK_EQ_STR(digest, l.digest);
	CHECK_OK(stat(at("cache/blobs/sha256"), &st));
	CHECK_EQ_INT(st.st_mode & 0777, 0700);
	CHECK_OK(stat(at("cache/blobs"), &st));
	CHECK_EQ_INT(st.st_mode & 0777, 0700);
}

TEST(hit_reads_no_tree)
{
	struct blob_cache c;
	struct stw_layer l;
	struct stw_layer_path lp;
	struct layer_digests d;
	struct hash_sink h;
	int from_cache = 0;

	fill(&c, &l, &lp, STW_COMPRESSION_ZSTD);
	CHECK_OK(unlink(at("tree/data")));
	CHECK_OK(rmdir(at("tree")));
	CHECK_OK(hash_sink_init(&h, NULL));
	CHECK_OK(blob_cache_compute(&c, BLOB_CACHE_STREAM, &l, &h.base, &d, &from_cache));
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
	struct blob_cache c;
	struct stw_layer l;
	struct stw_layer_path lp;
	struct layer_digests d;
	int from_cache = -1;
	FILE *f;

	fill(&c, &l, &lp, STW_COMPRESSION_GZIP);
	CHECK((f = fopen(blob_file(&c, l.digest), "a")));
	fputc('x', f);
	fclose(f);
	CHECK_OK(blob_cache_compute(&c, BLOB_CACHE_STREAM, &l, NULL, &d, &from_cache));
	CHECK_EQ_INT(from_cache, 0);
	CHECK_EQ_STR(d.digest, l.digest);
	/* the synthesis replaced it with the right blob */
	CHECK_OK(blob_cache_compute(&c, BLOB_CACHE_STREAM, &l, NULL, &d, &from_cache));
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
	struct blob_cache c;
	struct stw_layer l;
	struct stw_layer_path lp;
	struct layer_digests d;
	struct hash_sink h;
	int from_cache = 0;
	char digest[72];

	fill(&c, &l, &lp, STW_COMPRESSION_GZIP);
	/* streaming: the digests tell the caller, and the file is gone */
	corrupt(blob_file(&c, l.digest));
	CHECK_OK(blob_cache_compute(&c, BLOB_CACHE_STREAM, &l, NULL, &d, &from_cache));
	CHECK_EQ_INT(from_cache, 1);
	CHECK(strcmp(d.digest, l.digest) != 0);
	CHECK(access(blob_file(&c, l.digest), F_OK) != 0);
	/* the next call synthesises (and keeps the right blob again) */
	CHECK_OK(blob_cache_compute(&c, BLOB_CACHE_STREAM, &l, NULL, &d, &from_cache));
	CHECK_EQ_INT(from_cache, 0);
	CHECK_EQ_STR(d.digest, l.digest);
	/* verify-first: out only ever gets the right bytes */
	corrupt(blob_file(&c, l.digest));
	CHECK_OK(hash_sink_init(&h, NULL));
	CHECK_OK(blob_cache_write_verified(&c, &l, &h.base));
	CHECK_EQ_STR(h.digest, l.digest);
	CHECK_EQ_INT(h.bytes, l.size);
	hash_sink_release(&h);
	file_digest(digest, blob_file(&c, l.digest));
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
	struct blob_cache c;
	struct stw_layer l;
	struct stw_layer_path lp;
	struct layer_digests d;
	int from_cache = 0;

	fill(&c, &l, &lp, STW_COMPRESSION_GZIP);
	set_age(blob_file(&c, l.digest), 500);
	old_blob('a', 1000, 400);
	old_blob('b', 1000, 300);
	old_blob('c', 1000, 200);
	make_file(at("cache/blobs/sha256/incoming.1.2.tmp"), "x", 1, 0644); /* another writer's: kept */
	/* a read makes the oldest blob the most recently used */
	CHECK_OK(blob_cache_compute(&c, BLOB_CACHE_STREAM, &l, NULL, &d, &from_cache));
	CHECK_EQ_INT(from_cache, 1);
	c.max_bytes = l.size + 2000;
	blob_cache_evict(&c);
	CHECK(!has_blob('a'));
	CHECK(has_blob('b') && has_blob('c'));
	CHECK(access(blob_file(&c, l.digest), F_OK) == 0);
	CHECK(access(at("cache/blobs/sha256/incoming.1.2.tmp"), F_OK) == 0);
	/* unread for longest, it goes first */
	set_age(blob_file(&c, l.digest), 500);
	c.max_bytes = l.size + 1000;
	blob_cache_evict(&c);
	CHECK(access(blob_file(&c, l.digest), F_OK) != 0);
	CHECK(has_blob('b') && has_blob('c'));
	/* a temporary left by a crash a day ago is removed */
	set_age(at("cache/blobs/sha256/incoming.1.2.tmp"), 2 * 24 * 3600);
	blob_cache_evict(&c);
	CHECK(access(at("cache/blobs/sha256/incoming.1.2.tmp"), F_OK) != 0);
}

TEST(a_new_blob_evicts_older_ones)
{
	struct blob_cache c;
	struct stw_layer l;
	struct stw_layer_path lp;
	struct layer_digests d;
	int from_cache;

	c.dir = kept(cache_dir, "cache");
	make_dir(at("cache"), 0700);
	make_dir(at("cache/blobs"), 0700);
	make_dir(at("cache/blobs/sha256"), 0700);
	old_blob('a', 1000, 400);
	old_blob('b', 1000, 300);
	tree_layer(&l, &lp, STW_COMPRESSION_GZIP);
	c.max_bytes = 1 << 20;
	CHECK_OK(blob_cache_compute(&c, BLOB_CACHE_FILL, &l, NULL, &d, &from_cache));
	CHECK(has_blob('a') && has_blob('b'));
	/* a cap that holds the new blob and one more: a goes */
	c.max_bytes = d.size + 1000;
	CHECK_OK(unlink(blob_file(&c, d.digest)));
	CHECK_OK(blob_cache_compute(&c, BLOB_CACHE_FILL, &l, NULL, &d, &from_cache));
	CHECK(!has_blob('a') && has_blob('b'));
	CHECK(access(blob_file(&c, d.digest), F_OK) == 0);
	/* a blob bigger than the cap is not kept at all */
	CHECK_OK(unlink(blob_file(&c, d.digest)));
	c.max_bytes = d.size - 1;
	CHECK_OK(blob_cache_compute(&c, BLOB_CACHE_FILL, &l, NULL, &d, &from_cache));
	CHECK(access(blob_file(&c, d.digest), F_OK) != 0);
	CHECK(has_blob('b'));
}

TEST(cap_zero_and_uncompressed_are_not_cached)
{
	struct blob_cache c = { kept(cache_dir, "cache"), 0 };
	struct stw_layer l;
	struct stw_layer_path lp;
	struct layer_digests d;
	int from_cache;

	tree_layer(&l, &lp, STW_COMPRESSION_GZIP);
	CHECK_OK(blob_cache_compute(&c, BLOB_CACHE_FILL, &l, NULL, &d, &from_cache));
	CHECK(access(at("cache"), F_OK) != 0);
	c.max_bytes = 1 << 30;
	l.compression = STW_COMPRESSION_NONE;
	CHECK_OK(blob_cache_compute(&c, BLOB_CACHE_FILL, &l, NULL, &d, &from_cache));
	CHECK(access(at("cache"), F_OK) != 0);
	/* NULL: no cache at all */
	l.compression = STW_COMPRESSION_GZIP;
	CHECK_OK(blob_cache_compute(NULL, BLOB_CACHE_STREAM, &l, NULL, &d, &from_cache));
	CHECK_EQ_INT(from_cache, 0);
}

TEST(failure_to_write_is_not_an_error)
{
	struct blob_cache c = { kept(cache_dir, "not-a-dir/cache"), 1 << 30 };
	struct stw_layer l, want;
	struct stw_layer_path lp;
	struct layer_digests d;
	struct hash_sink h;
	int from_cache;

	tree_layer(&l, &lp, STW_COMPRESSION_GZIP);
	CHECK_OK(layer_compute(&l, NULL, &d));
	want = l;
	record(&want, &d);
	make_file(at("not-a-dir"), "file", 4, 0644);
	CHECK_OK(hash_sink_init(&h, NULL));
	CHECK_OK(blob_cache_compute(&c, BLOB_CACHE_FILL, &l, &h.base, &d, &from_cache));
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
