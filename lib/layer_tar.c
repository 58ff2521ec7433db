#include "layer_tar.h"
#include "compress.h"
#include "error.h"
#include "layer_stream.h"

#include <stdlib.h>
#include <string.h>

/* Pieces handed down the sink chain: big enough for few calls, small
 * enough to stay in the cache between the read and the hash. */
#define CHUNK (256 * 1024)

int layer_tar_write(const struct stw_layer *layer, struct sink *out)
{
	struct layer_stream stream;
	char *chunk = malloc(CHUNK);
	ssize_t n = -1;

	if (!chunk)
		return stw_error("out of memory");
	if (layer_stream_open(&stream, layer) == 0)
		while ((n = layer_stream_read(&stream, chunk, CHUNK)) > 0)
			if (sink_write(out, chunk, (size_t)n) < 0) {
				n = -1;
				break;
			}
	layer_stream_close(&stream);
	free(chunk);
	return n < 0 ? -1 : 0;
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
