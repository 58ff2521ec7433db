/*
 * OCI image layout: blobs are written to a temporary name, verified and
 * renamed, so a blob file is always complete and correct; index.json is
 * replaced last, atomically, under an exclusive lock (flock on the layout
 * directory) so concurrent writers both land. A layout that did not exist is built beside its destination
 * and renamed into place only when complete.
 */
#include "oci_layout.h"
#include "atomic_file.h"
#include "blob_cache.h"
#include "buf.h"
#include "digest.h"
#include "error.h"
#include "json_text.h"
#include "layer_tar.h"
#include "manifest.h"
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define OCI_LAYOUT_FILE "{\"imageLayoutVersion\":\"1.0.0\"}"

struct layout_job {
	const struct stw_image *img;
	const char *dir;
	struct blob_cache blobs; /* compressed layers already made */
	atomic_size_t written, present;
	atomic_uint_fast64_t bytes;
};

static int blob_path(struct buf *b, const char *dir, const char *digest)
{
	buf_reset(b);
	return buf_addf(b, "%s/blobs/sha256/%s", dir, digest + 7);
}

static int blob_present(const char *path, uint64_t size)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

/* A small blob held in memory (config, manifest). */
static int write_memory_blob(struct layout_job *j, const char *digest, const char *data, size_t len)
{
	struct buf path;
	int ret = 0;

	buf_init(&path);
	if (blob_path(&path, j->dir, digest) < 0)
		ret = -1;
	else if (blob_present(path.data, len))
		atomic_fetch_add(&j->present, 1);
	else if ((ret = atomic_file_write(path.data, data, len)) == 0) {
		atomic_fetch_add(&j->written, 1);
		atomic_fetch_add(&j->bytes, len);
	}
	buf_release(&path);
	return ret;
}

static int write_layer_blob(void *ctx, size_t index)
{
	struct layout_job *j = ctx;
	const struct stw_layer *l = &j->img->layers[index];
	struct atomic_file f = { .fd = -1 };
	struct buf path;
	struct fd_sink out;
	int ret = -1;

	buf_init(&path);
	buf_init(&f.tmp);
	memset(&out, 0, sizeof(out));
	if (blob_path(&path, j->dir, l->digest) < 0)
		goto out;
	if (blob_present(path.data, l->size)) {
		atomic_fetch_add(&j->present, 1);
		ret = 0;
		goto out;
	}
	if (atomic_file_open(&f, path.data) < 0 || fd_sink_init(&out, f.fd, path.data) < 0 ||
	    blob_cache_write_verified(&j->blobs, l, &out.base) < 0 || atomic_file_commit(&f) < 0)
		goto out;
	atomic_fetch_add(&j->written, 1);
	atomic_fetch_add(&j->bytes, l->size);
	ret = 0;
out:
	atomic_file_abort(&f);
	fd_sink_release(&out);
	buf_release(&path);
	return ret;
}

int oci_index_json(char **out, const char *existing, const char *manifest_digest, size_t manifest_size,
		   const char *tag)
{
	json_t *index = NULL, *manifests, *entry, *kept = json_array();
	json_error_t err;
	size_t i;
	int ret = -1;

	*out = NULL;
	index = existing ? json_loads(existing, 0, &err)
			 : json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType", OCI_INDEX_TYPE, "manifests");
	if (!index || !json_is_object(index)) {
		stw_error("existing index.json is not valid JSON");
		goto out;
	}
	manifests = json_object_get(index, "manifests");
	if (!json_is_array(manifests)) {
		stw_error("existing index.json has no manifests array");
		goto out;
	}
	/* the tag moves to the new manifest; other entries stay */
	json_array_foreach(manifests, i, entry) {
		const char *ref = json_string_value(
			json_object_get(json_object_get(entry, "annotations"), "org.opencontainers.image.ref.name"));
		const char *digest = json_string_value(json_object_get(entry, "digest"));
		if (tag && ref && !strcmp(ref, tag))
			continue;
		if (!tag && !ref && digest && !strcmp(digest, manifest_digest))
			continue;
		json_array_append(kept, entry);
	}
	entry = json_pack("{s:s,s:s,s:I}", "mediaType", OCI_MANIFEST_TYPE, "digest", manifest_digest, "size",
			  (json_int_t)manifest_size);
	if (tag)
		json_object_set_new(entry, "annotations",
				    json_pack("{s:s}", "org.opencontainers.image.ref.name", tag));
	json_array_append_new(kept, entry);
	json_object_set(index, "manifests", kept);
	*out = stw_json_dumps(index, JSON_INDENT(2) | JSON_SORT_KEYS);
	ret = *out ? 0 : stw_error("out of memory");
out:
	json_decref(kept);
	json_decref(index);
	return ret;
}

static int update_index(const char *dir, const char *manifest_digest, size_t manifest_size, const char *tag)
{
	struct buf path, lock_path, existing;
	char *text = NULL;
	int lock = -1, ret = -1;

	buf_init(&path);
	buf_init(&lock_path);
	buf_init(&existing);
	if (buf_addf(&path, "%s/index.json", dir) < 0 || buf_addf(&lock_path, "%s", dir) < 0)
		goto out;
	/* the layout directory itself is the lock: no lock file is left in it */
	lock = open(lock_path.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0 || flock(lock, LOCK_EX) < 0) {
		stw_error_errno("cannot lock '%s'", lock_path.data);
		goto out;
	}
	if (access(path.data, F_OK) == 0 && buf_read_file(&existing, path.data, 64u << 20) < 0)
		goto out;
	if (oci_index_json(&text, existing.len ? existing.data : NULL, manifest_digest, manifest_size, tag) < 0) {
		stw_error_wrap("cannot update '%s'", path.data);
		goto out;
	}
	ret = atomic_file_write(path.data, text, strlen(text));
out:
	if (lock >= 0)
		close(lock); /* releases the lock */
	free(text);
	buf_release(&path);
	buf_release(&lock_path);
	buf_release(&existing);
	return ret;
}

static int make_dirs(const char *dir)
{
	struct buf p;
	int ret = 0;

	buf_init(&p);
	if (buf_addf(&p, "%s/blobs", dir) < 0)
		ret = -1;
	else if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || (mkdir(p.data, 0755) < 0 && errno != EEXIST))
		ret = stw_error_errno("cannot create '%s'", p.data);
	else if (buf_adds(&p, "/sha256") < 0)
		ret = -1;
	else if (mkdir(p.data, 0755) < 0 && errno != EEXIST)
		ret = stw_error_errno("cannot create '%s'", p.data);
	buf_release(&p);
	return ret;
}

static int write_layout(const struct stw_image *img, const char *dir, const char *tag,
			const struct stw_copy_options *opts, struct stw_copy_stats *stats)
{
	struct layout_job j = { .img = img, .dir = dir };
	struct buf path;
	char *manifest = NULL;
	char manifest_digest[STW_DIGEST_LEN + 1];
	int ret = -1;

	buf_init(&path);
	atomic_init(&j.written, 0);
	atomic_init(&j.present, 0);
	atomic_init(&j.bytes, 0);
	if (opts)
		j.blobs = (struct blob_cache){ opts->cache_dir, opts->blob_cache_max };
	if (make_dirs(dir) < 0 || buf_addf(&path, "%s/oci-layout", dir) < 0)
		goto out;
	if (access(path.data, F_OK) != 0 &&
	    atomic_file_write(path.data, OCI_LAYOUT_FILE, strlen(OCI_LAYOUT_FILE)) < 0)
		goto out;
	if (pool_run(img->layer_count, opts ? opts->jobs : 0, write_layer_blob, &j) < 0)
		goto out;
	if (stw_image_manifest(&manifest, img) < 0 ||
	    sha256_digest(manifest_digest, manifest, strlen(manifest)) < 0)
		goto out;
	if (write_memory_blob(&j, img->config_digest, img->config_json, strlen(img->config_json)) < 0 ||
	    write_memory_blob(&j, manifest_digest, manifest, strlen(manifest)) < 0)
		goto out;
	if (update_index(dir, manifest_digest, strlen(manifest), tag) < 0)
		goto out;
	if (stats) {
		stats->blobs_written = atomic_load(&j.written);
		stats->blobs_present = atomic_load(&j.present);
		stats->bytes_written = atomic_load(&j.bytes);
		memcpy(stats->manifest_digest, manifest_digest, sizeof(manifest_digest));
	}
	ret = 0;
out:
	free(manifest);
	buf_release(&path);
	return ret;
}

int oci_layout_write(const struct stw_image *img, const char *dir, const char *tag,
		     const struct stw_copy_options *opts, struct stw_copy_stats *stats)
{
	struct buf staging;
	int ret;

	if (!img->has_config)
		return stw_error("a layer JSON has no config: use stowage build to make an image");
	if (access(dir, F_OK) == 0)
		return write_layout(img, dir, tag, opts, stats);
	/* new layout: build it aside, then rename into place */
	buf_init(&staging);
	if (buf_addf(&staging, "%s.stowage-%ld.tmp", dir, (long)getpid()) < 0)
		return -1;
	if (atomic_dir_create(staging.data) < 0) {
		buf_release(&staging);
		return -1;
	}
	ret = write_layout(img, staging.data, tag, opts, stats);
	if (ret == 0 && rename(staging.data, dir) == 0) {
		atomic_dir_keep(staging.data);
	} else {
		/* another writer made the layout meanwhile: add to it (its
		 * index.json is updated under the lock) */
		if (ret == 0 && (errno == EEXIST || errno == ENOTEMPTY))
			ret = write_layout(img, dir, tag, opts, stats);
		else if (ret == 0)
			ret = stw_error_errno("cannot rename '%s' to '%s'", staging.data, dir);
		atomic_dir_remove(staging.data);
	}
	buf_release(&staging);
	return ret;
}
