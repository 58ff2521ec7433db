/* The compressed-blob cache (see blob_cache.h). */
#include "blob_cache.h"
#include "atomic_file.h"
#include "buf.h"
#include "error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (256 * 1024)
#define STALE_TEMPORARY_SECONDS (24 * 3600)

static int cache_on(const struct blob_cache *c, const struct stw_layer *l)
{
	return c && c->dir && c->max_bytes && l->compression != STW_COMPRESSION_NONE;
}

/* ---- serving a cached blob ---- */

/* An fd on the cached blob with l's recorded digest and size, its mtime
 * touched (the LRU order); -1 when there is none. */
static int cached_open(const struct blob_cache *c, const struct stw_layer *l, struct buf *path)
{
	struct stat st;
	int fd;

	if (!digest_is_valid(l->digest) || buf_addf(path, "%s/blobs/sha256/%s", c->dir, l->digest + 7) < 0)
		return -1;
	fd = open(path->data, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != l->size) {
		close(fd);
		return -1;
	}
	(void)futimens(fd, NULL); /* a cache we may not touch still serves */
	return fd;
}

/* Reads fd to its end into out (finished). */
static int read_into(int fd, struct sink *out, const char *name)
{
	char *chunk = malloc(READ_CHUNK);
	int ret = -1;

	if (!chunk)
		return stw_error("out of memory");
	for (;;) {
		ssize_t n = read(fd, chunk, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			stw_error_errno("cannot read '%s'", name);
			goto out;
		}
		if (n == 0)
			break;
		if (sink_write(out, chunk, (size_t)n) < 0)
			goto out;
	}
	ret = sink_finish(out);
out:
	free(chunk);
	return ret;
}

/* Hashes fd to its end into h (which forwards to next). */
static int hash_fd(int fd, struct sink *next, const char *name, char digest[72], uint64_t *bytes)
{
	struct hash_sink h;
	int ret = -1;

	if (hash_sink_init(&h, next) < 0)
		return -1;
	if (read_into(fd, &h.base, name) == 0) {
		memcpy(digest, h.digest, sizeof(h.digest));
		*bytes = h.bytes;
		ret = 0;
	}
	hash_sink_release(&h);
	return ret;
}

/* 1 when the whole of fd hashes to l's digest; 0 otherwise (rewound). */
static int cached_content_ok(int fd, const struct stw_layer *l, const char *name)
{
	char digest[72];
	uint64_t bytes;
	int ok = hash_fd(fd, NULL, name, digest, &bytes) == 0 && !strcmp(digest, l->digest) && bytes == l->size;
	return lseek(fd, 0, SEEK_SET) == 0 && ok;
}

/* 1 when the cache served the blob into out (d filled), 0 on a miss,
 * -1 when out failed. A cached blob found corrupt is deleted. */
static int serve_cached(const struct blob_cache *c, enum blob_cache_mode mode, const struct stw_layer *l,
			struct sink *out, struct layer_digests *d)
{
	struct buf path;
	int fd, ret = 0;

	buf_init(&path);
	fd = cached_open(c, l, &path);
	if (fd < 0)
		goto out;
	if (mode == BLOB_CACHE_VERIFY_FIRST && !cached_content_ok(fd, l, path.data)) {
		unlink(path.data);
		goto out;
	}
	ret = hash_fd(fd, out, path.data, d->digest, &d->size) < 0 ? -1 : 1;
	memcpy(d->diff_id, l->diff_id, sizeof(d->diff_id));
	d->tar_size = l->tar_size;
	if (ret == 1 && (strcmp(d->digest, l->digest) != 0 || d->size != l->size))
		unlink(path.data); /* corrupt: the caller's check of d sees it */
out:
	if (fd >= 0)
		close(fd);
	buf_release(&path);
	return ret;
}

/* ---- synthesising, with a copy into the cache ---- */

/* Passes everything on to next, and a copy into the cache's temporary file
 * until that fails or passes the cap: a failing copy is dropped, never an
 * error. */
struct tee_sink {
	struct sink base;
	struct atomic_file file;
	struct fd_sink copy;
	uint64_t bytes, max;
	int failed;
};

static int tee_write(struct sink *s, const void *data, size_t len)
{
	struct tee_sink *t = (struct tee_sink *)s;

	t->bytes += len;
	if (!t->failed && (t->bytes > t->max || sink_write(&t->copy.base, data, len) < 0))
		t->failed = 1;
	return sink_write(s->next, data, len);
}

static int tee_finish(struct sink *s)
{
	struct tee_sink *t = (struct tee_sink *)s;

	if (!t->failed && sink_finish(&t->copy.base) < 0)
		t->failed = 1;
	return sink_finish(s->next);
}

static void tee_open(struct tee_sink *t, const struct blob_cache *c, struct buf *incoming, struct sink *next)
{
	memset(t, 0, sizeof(*t));
	t->base = (struct sink){ tee_write, tee_finish, next };
	t->file.fd = -1;
	t->max = c->max_bytes;
	t->failed = buf_addf(incoming, "%s/blobs/sha256/incoming", c->dir) < 0 ||
		    atomic_file_make_parents(incoming->data) < 0 || atomic_file_open(&t->file, incoming->data) < 0 ||
		    fd_sink_init(&t->copy, t->file.fd, t->file.tmp.data) < 0;
}

/* Renames the complete copy to its digest's name, then keeps the cap. */
static void tee_commit(struct tee_sink *t, const struct blob_cache *c, const char *digest)
{
	struct buf path;

	buf_init(&path);
	if (!t->failed && digest_is_valid(digest) && buf_addf(&path, "%s/blobs/sha256/%s", c->dir, digest + 7) == 0) {
		t->file.path = path.data;
		if (atomic_file_commit(&t->file) == 0)
			blob_cache_evict(c);
	}
	atomic_file_abort(&t->file);
	fd_sink_release(&t->copy);
	buf_release(&path);
}

static int synthesise_into_cache(const struct blob_cache *c, const struct stw_layer *l, struct sink *out,
				 struct layer_digests *d)
{
	struct tee_sink tee;
	struct buf incoming;
	int ret;

	buf_init(&incoming);
	tee_open(&tee, c, &incoming, out);
	ret = layer_compute(l, &tee.base, d);
	if (ret < 0)
		tee.failed = 1;
	tee_commit(&tee, c, d->digest);
	buf_release(&incoming);
	return ret;
}

int blob_cache_compute(const struct blob_cache *c, enum blob_cache_mode mode, const struct stw_layer *layer,
		       struct sink *out, struct layer_digests *d, int *from_cache)
{
	int rc;

	*from_cache = 0;
	if (!cache_on(c, layer))
		return layer_compute(layer, out, d);
	if (mode != BLOB_CACHE_FILL && (rc = serve_cached(c, mode, layer, out, d)) != 0) {
		*from_cache = rc == 1;
		return rc < 0 ? -1 : 0;
	}
	return synthesise_into_cache(c, layer, out, d);
}

int blob_cache_write_verified(const struct blob_cache *c, const struct stw_layer *layer, struct sink *out)
{
	struct layer_digests d;
	int from_cache;

	if (blob_cache_compute(c, BLOB_CACHE_VERIFY_FIRST, layer, out, &d, &from_cache) < 0)
		return -1;
	return layer_check_digests(layer, &d);
}

/* ---- keeping the cap ---- */

struct cached_blob {
	time_t mtime;
	long mtime_ns;
	uint64_t size;
	char name[65];
};

static int older_first(const void *a, const void *b)
{
	const struct cached_blob *x = a, *y = b;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	if (x->mtime_ns != y->mtime_ns)
		return x->mtime_ns < y->mtime_ns ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int is_blob_name(const char *name)
{
	return strlen(name) == 64 && strspn(name, "0123456789abcdef") == 64;
}

static int is_stale_temporary(const char *name, const struct stat *st)
{
	size_t len = strlen(name);
	return len > 4 && !strcmp(name + len - 4, ".tmp") && time(NULL) - st->st_mtime > STALE_TEMPORARY_SECONDS;
}

/* The blobs in dir (stale temporaries deleted on the way), and their total size. */
static int list_blobs(DIR *dir, struct cached_blob **out, size_t *count, uint64_t *total)
{
	struct cached_blob *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;

	*total = 0;
	while ((e = readdir(dir))) {
		struct stat st;
		if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (is_stale_temporary(e->d_name, &st))
			unlinkat(dirfd(dir), e->d_name, 0);
		if (!is_blob_name(e->d_name))
			continue;
		if (n == cap) {
			struct cached_blob *g = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*v));
			if (!g) {
				free(v);
				return -1;
			}
			v = g;
		}
		v[n] = (struct cached_blob){ st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (uint64_t)st.st_size, "" };
		memcpy(v[n++].name, e->d_name, 65);
		*total += (uint64_t)st.st_size;
	}
	*out = v;
	*count = n;
	return 0;
}

void blob_cache_evict(const struct blob_cache *c)
{
	struct cached_blob *blobs = NULL;
	size_t count = 0;
	uint64_t total;
	struct buf path;
	DIR *dir = NULL;

	buf_init(&path);
	if (!c || !c->dir || buf_addf(&path, "%s/blobs/sha256", c->dir) < 0 || !(dir = opendir(path.data)) ||
	    list_blobs(dir, &blobs, &count, &total) < 0)
		goto out;
	qsort(blobs, count, sizeof(*blobs), older_first);
	for (size_t i = 0; i < count && total > c->max_bytes; i++)
		if (unlinkat(dirfd(dir), blobs[i].name, 0) == 0 || errno == ENOENT)
			total -= blobs[i].size; /* ENOENT: another process evicted it */
out:
	free(blobs);
	if (dir)
		closedir(dir);
	buf_release(&path);
}
