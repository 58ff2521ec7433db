#include "archive_out.h"
#include "blob_cache.h"
#include "digest.h"
#include "error.h"
#include "layer_tar.h"
#include "manifest.h"
#include "oci_layout.h"
#include "tar_header.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int member(struct sink *out, const char *name, const void *data, size_t len)
{
	if (tar_write_file_header(out, name, len) < 0 || sink_write(out, data, len) < 0)
		return -1;
	return tar_write_padding(out, len);
}

/* The same diff_id twice in one image is stored once. */
static int seen_before(const struct stw_image *img, size_t i, int compressed)
{
	for (size_t k = 0; k < i; k++)
		if (!strcmp(compressed ? img->layers[k].digest : img->layers[k].diff_id,
			    compressed ? img->layers[i].digest : img->layers[i].diff_id))
			return 1;
	return 0;
}

/* blobs: where a compressed layer may already be; NULL for a tar */
static int layer_member(struct sink *out, const struct stw_layer *l, const char *name,
			const struct blob_cache *blobs, int compressed)
{
	struct limit_sink limit;
	uint64_t size = compressed ? l->size : l->tar_size;
	char what[512];

	/* an error names the input at fault, not the archive member */
	snprintf(what, sizeof(what), "layer %.19s holding '%s'", l->digest,
		 l->path_count ? l->paths[0].path : "(empty layer)");
	if (tar_write_file_header(out, name, size) < 0)
		return -1;
	limit_sink_init(&limit, size, what, out);
	if ((compressed ? blob_cache_write_verified(blobs, l, &limit.base) : layer_write_tar_verified(l, &limit.base)) <
	    0)
		return -1;
	return tar_write_padding(out, size);
}

int docker_archive_write(const struct stw_image *img, const char *repo_tag, struct sink *out,
			 struct stw_copy_stats *stats)
{
	char name[96], *manifest = NULL;
	int ret = -1;

	if (!img->has_config)
		return stw_error("a layer JSON has no config: use stowage build to make an image");
	snprintf(name, sizeof(name), "%s.json", img->config_digest + 7);
	if (member(out, name, img->config_json, strlen(img->config_json)) < 0)
		goto out;
	for (size_t i = 0; i < img->layer_count; i++) {
		const struct stw_layer *l = &img->layers[i];
		if (seen_before(img, i, 0))
			continue;
		snprintf(name, sizeof(name), "%s", l->diff_id + 7);
		if (tar_write_dir_header(out, name) < 0)
			goto out;
		snprintf(name, sizeof(name), "%s/layer.tar", l->diff_id + 7);
		if (layer_member(out, l, name, NULL, 0) < 0)
			goto out;
		if (stats) {
			stats->blobs_written++;
			stats->bytes_written += l->tar_size;
		}
	}
	if (docker_archive_manifest(&manifest, img, repo_tag) < 0 ||
	    member(out, "manifest.json", manifest, strlen(manifest)) < 0)
		goto out;
	if (tar_write_end(out) < 0 || sink_finish(out) < 0)
		goto out;
	ret = 0;
out:
	free(manifest);
	return ret;
}

int oci_archive_write(const struct stw_image *img, const char *tag, struct sink *out,
		      const struct stw_copy_options *opts, struct stw_copy_stats *stats)
{
	struct blob_cache blobs = { opts ? opts->cache_dir : NULL, opts ? opts->blob_cache_max : 0 };
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	char name[96], digest[STW_DIGEST_LEN + 1], *manifest = NULL, *index = NULL;
	int ret = -1;

	if (!img->has_config)
		return stw_error("a layer JSON has no config: use stowage build to make an image");
	if (stw_image_manifest(&manifest, img) < 0 || sha256_digest(digest, manifest, strlen(manifest)) < 0 ||
	    oci_index_json(&index, NULL, digest, strlen(manifest), tag) < 0)
		goto out;
	if (member(out, "oci-layout", layout, strlen(layout)) < 0 || tar_write_dir_header(out, "blobs") < 0 ||
	    tar_write_dir_header(out, "blobs/sha256") < 0)
		goto out;
	for (size_t i = 0; i < img->layer_count; i++) {
		if (seen_before(img, i, 1))
			continue;
		snprintf(name, sizeof(name), "blobs/sha256/%s", img->layers[i].digest + 7);
		if (layer_member(out, &img->layers[i], name, &blobs, 1) < 0)
			goto out;
		if (stats) {
			stats->blobs_written++;
			stats->bytes_written += img->layers[i].size;
		}
	}
	snprintf(name, sizeof(name), "blobs/sha256/%s", img->config_digest + 7);
	if (member(out, name, img->config_json, strlen(img->config_json)) < 0)
		goto out;
	snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
	if (member(out, name, manifest, strlen(manifest)) < 0 || member(out, "index.json", index, strlen(index)) < 0)
		goto out;
	if (tar_write_end(out) < 0 || sink_finish(out) < 0)
		goto out;
	if (stats)
		memcpy(stats->manifest_digest, digest, sizeof(digest));
	ret = 0;
out:
	free(manifest);
	free(index);
	return ret;
}
