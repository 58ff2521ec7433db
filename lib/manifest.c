#include "manifest.h"
#include "stowage/copy.h"
#include "digest.h"
#include "error.h"
#include "json_text.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *docker_layer_type(enum stw_compression c)
{
	return c == STW_COMPRESSION_GZIP ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
					 : "application/vnd.docker.image.rootfs.diff.tar";
}

int stw_image_manifest_as(char **out, const struct stw_image *img, int docker)
{
	json_t *layers = json_array(), *m;

	*out = NULL;
	if (!img->has_config)
		return stw_error("a layer JSON has no config, so it has no manifest: use stowage build");
	for (size_t i = 0; layers && i < img->layer_count; i++) {
		const struct stw_layer *l = &img->layers[i];
		if (docker && l->compression == STW_COMPRESSION_ZSTD) {
			json_decref(layers);
			return stw_error("Docker schema 2 has no zstd layers: build with --compression gzip, or push OCI");
		}
		json_array_append_new(layers, json_pack("{s:s,s:s,s:I}", "mediaType",
							docker ? docker_layer_type(l->compression)
							       : stw_layer_media_type(l->compression),
							"digest", l->digest, "size", (json_int_t)l->size));
	}
	m = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType",
		      docker ? DOCKER_MANIFEST_TYPE : OCI_MANIFEST_TYPE, "config", "mediaType",
		      docker ? DOCKER_CONFIG_TYPE : OCI_CONFIG_TYPE, "digest", img->config_digest, "size",
		      (json_int_t)strlen(img->config_json), "layers", layers);
	if (m)
		*out = stw_json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(m);
	return *out ? 0 : stw_error("out of memory");
}

int stw_image_manifest(char **out, const struct stw_image *img)
{
	return stw_image_manifest_as(out, img, 0);
}

int stw_manifest_digest(char out[72], const char *manifest)
{
	return sha256_digest(out, manifest, strlen(manifest));
}

int docker_archive_manifest(char **out, const struct stw_image *img, const char *repo_tag)
{
	json_t *layers = json_array(), *tags = json_array(), *m;
	char name[96];

	*out = NULL;
	for (size_t i = 0; layers && i < img->layer_count; i++) {
		snprintf(name, sizeof(name), "%s/layer.tar", img->layers[i].diff_id + 7);
		json_array_append_new(layers, json_string(name));
	}
	if (repo_tag && tags)
		json_array_append_new(tags, json_string(repo_tag));
	snprintf(name, sizeof(name), "%s.json", img->config_digest + 7);
	m = json_pack("[{s:s,s:o,s:o}]", "Config", name, "RepoTags", tags, "Layers", layers);
	if (m)
		*out = stw_json_dumps(m, JSON_COMPACT);
	json_decref(m);
	return *out ? 0 : stw_error("out of memory");
}

int reference_split(char **name, char **tag, const char *ref)
{
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');

	int ret = 0;

	*name = colon ? strndup(ref, (size_t)(colon - ref)) : strdup(ref);
	*tag = colon ? strdup(colon + 1) : NULL;
	if (!*name || (colon && !*tag))
		ret = stw_error("out of memory");
	else if (!**name || (*tag && !**tag))
		ret = stw_error("invalid image reference '%s'", ref);
	if (ret < 0) { /* a failure leaves nothing to free */
		free(*name);
		free(*tag);
		*name = *tag = NULL;
	}
	return ret;
}
