#include "layer_tar.h"
#include "compress.h"
#include "error.h"
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (256 * 1024)

static const char zeros[64 * 1024];

static int write_zeros(struct sink *out, uint64_t count)
{
	while (count) {
		size_t n = count > sizeof(zeros) ? sizeof(zeros) : (size_t)count;
		if (sink_write(out, zeros, n) < 0)
			return -1;
		count -= n;
	}
	return 0;
}

/* Copies [from, to) of the file with pread; a file that shrank fails. */
static int copy_range(int fd, const struct tree_entry *e, uint64_t from, uint64_t to, struct sink *out,
		      char *chunk)
{
	while (from < to) {
		size_t want = to - from > READ_CHUNK ? READ_CHUNK : (size_t)(to - from);
		ssize_t n = pread(fd, chunk, want, (off_t)from);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return stw_error_errno("cannot read '%s'", e->source);
		if (n == 0)
			return stw_error("'%s' changed while it was being read", e->source);
		if (sink_write(out, chunk, (size_t)n) < 0)
			return -1;
		from += (uint64_t)n;
	}
	return 0;
}

/* Streams exactly e->size bytes of the file; a file that changed size
 * since it was listed fails rather than producing a corrupt tar. Holes of
 * sparse files are not read: they are zeros, fed from memory. */
static int write_file_data(const struct tree_entry *e, struct sink *out, char *chunk)
{
	struct stat st;
	uint64_t pos = 0;
	int fd = open(e->source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int ret = -1;

	if (fd < 0)
		return stw_error_errno("cannot open '%s'", e->source);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->size) {
		stw_error("'%s' changed while it was being read", e->source);
		goto out;
	}
	if (e->size >= READ_CHUNK)
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	/* Seeking for holes costs two syscalls a file: only where there can
	 * be holes, i.e. fewer blocks allocated than the size needs. */
	if ((uint64_t)st.st_blocks * 512 >= e->size) {
		ret = copy_range(fd, e, 0, e->size, out, chunk);
		if (!ret)
			ret = tar_write_padding(out, e->size);
		goto out;
	}
	while (pos < e->size) {
		off_t data = lseek(fd, (off_t)pos, SEEK_DATA), hole;
		if (data < 0 && errno == ENXIO)
			data = (off_t)e->size; /* only a hole is left */
		else if (data < 0)
			data = (off_t)pos;     /* no SEEK_DATA here: read it all */
		if ((uint64_t)data > e->size)
			data = (off_t)e->size;
		if (write_zeros(out, (uint64_t)data - pos) < 0)
			goto out;
		pos = (uint64_t)data;
		if (pos == e->size)
			break;
		hole = lseek(fd, (off_t)pos, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > e->size || (uint64_t)hole <= pos)
			hole = (off_t)e->size;
		if (copy_range(fd, e, pos, (uint64_t)hole, out, chunk) < 0)
			goto out;
		pos = (uint64_t)hole;
	}
	ret = tar_write_padding(out, e->size);
out:
	close(fd);
	return ret;
}

int layer_tar_write(const struct stw_layer *layer, struct sink *out)
{
	struct tree tree;
	char *chunk = malloc(READ_CHUNK);
	int ret = -1;

	tree_init(&tree);
	if (!chunk) {
		stw_error("out of memory");
		goto out;
	}
	if (tree_collect(&tree, layer) < 0)
		goto out;
	for (size_t i = 0; i < tree.count; i++) {
		const struct tree_entry *e = &tree.entries[i];
		struct tar_header h;
		tree_entry_header(e, &h);
		if (tar_write_header(out, &h) < 0)
			goto out;
		if (e->type == TAR_FILE && write_file_data(e, out, chunk) < 0)
			goto out;
	}
	ret = tar_write_end(out);
out:
	tree_release(&tree);
	free(chunk);
	return ret;
}

int layer_compute(const struct stw_layer *layer, struct sink *blob_out, struct layer_digests *out)
{
	struct hash_sink blob_hash, tar_hash;
	struct compress_sink compress;
	int compressed = layer->compression != STW_COMPRESSION_NONE;
	int ret = -1;

	memset(&blob_hash, 0, sizeof(blob_hash));
	memset(&tar_hash, 0, sizeof(tar_hash));
	memset(&compress, 0, sizeof(compress));
	/* Uncompressed, the blob is the tar: one hash serves both digests. */
	if (compressed && (hash_sink_init(&blob_hash, blob_out) < 0 ||
			   compress_sink_init(&compress, layer->compression, &blob_hash.base) < 0))
		goto out;
	if (hash_sink_init(&tar_hash, compressed ? &compress.base : blob_out) < 0)
		goto out;
	if (layer_tar_write(layer, &tar_hash.base) < 0 || sink_finish(&tar_hash.base) < 0)
		goto out;
	memcpy(out->diff_id, tar_hash.digest, sizeof(tar_hash.digest));
	out->tar_size = tar_hash.bytes;
	memcpy(out->digest, compressed ? blob_hash.digest : tar_hash.digest, sizeof(tar_hash.digest));
	out->size = compressed ? blob_hash.bytes : tar_hash.bytes;
	ret = 0;
out:
	hash_sink_release(&tar_hash);
	compress_sink_release(&compress);
	hash_sink_release(&blob_hash);
	return ret;
}

static const char *first_path(const struct stw_layer *layer)
{
	return layer->path_count ? layer->paths[0].path : "(empty layer)";
}

int layer_check_digests(const struct stw_layer *layer, const struct layer_digests *d)
{
	if (strcmp(d->diff_id, layer->diff_id) != 0 || strcmp(d->digest, layer->digest) != 0 ||
	    d->size != layer->size)
		return stw_error("layer %s holding '%s' no longer matches its recorded digest "
				 "(content now %s): rebuild the image",
				 layer->digest, first_path(layer), d->digest);
	return 0;
}

int layer_write_verified(const struct stw_layer *layer, struct sink *blob_out)
{
	struct layer_digests d;

	if (layer_compute(layer, blob_out, &d) < 0)
		return -1;
	return layer_check_digests(layer, &d);
}

int layer_write_tar_verified(const struct stw_layer *layer, struct sink *out)
{
	struct hash_sink tar_hash;
	int ret = -1;

	if (hash_sink_init(&tar_hash, out) < 0)
		goto out;
	if (layer_tar_write(layer, &tar_hash.base) < 0 || sink_finish(&tar_hash.base) < 0)
		goto out;
	if (strcmp(tar_hash.digest, layer->diff_id) != 0 || tar_hash.bytes != layer->tar_size) {
		stw_error("layer %s holding '%s' no longer matches its recorded diff_id "
			  "(content now %s): rebuild the image",
			  layer->diff_id, first_path(layer), tar_hash.digest);
		goto out;
	}
	ret = 0;
out:
	hash_sink_release(&tar_hash);
	return ret;
}
