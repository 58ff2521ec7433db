/* Reading and writing image/layer JSON (docs/image-json.md). */
#include "stowage/image.h"
#include "buf.h"
#include "digest.h"
#include "error.h"
#include "json_text.h"
#include "oci_config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IMAGE_JSON (256u * 1024 * 1024)

const char *stw_compression_name(enum stw_compression c)
{
	return c == STW_COMPRESSION_GZIP ? "gzip" : c == STW_COMPRESSION_ZSTD ? "zstd" : "none";
}

int stw_compression_parse(enum stw_compression *out, const char *name)
{
	if (!strcmp(name, "none"))
		*out = STW_COMPRESSION_NONE;
	else if (!strcmp(name, "gzip"))
		*out = STW_COMPRESSION_GZIP;
	else if (!strcmp(name, "zstd"))
		*out = STW_COMPRESSION_ZSTD;
	else
		return stw_error("unknown compression '%s' (expected none, gzip or zstd)", name);
	return 0;
}

const char *stw_layer_media_type(enum stw_compression c)
{
	switch (c) {
	case STW_COMPRESSION_GZIP: return "application/vnd.oci.image.layer.v1.tar+gzip";
	case STW_COMPRESSION_ZSTD: return "application/vnd.oci.image.layer.v1.tar+zstd";
	default: return "application/vnd.oci.image.layer.v1.tar";
	}
}

void stw_perm_rule_release(struct stw_perm_rule *r)
{
	free(r->regex);
	r->regex = NULL;
}

void stw_layer_release(struct stw_layer *l)
{
	for (size_t i = 0; i < l->path_count; i++) {
		free(l->paths[i].path);
		free(l->paths[i].rewrite_regex);
		free(l->paths[i].rewrite_repl);
	}
	free(l->paths);
	for (size_t i = 0; i < l->perm_count; i++)
		stw_perm_rule_release(&l->perms[i]);
	free(l->perms);
	memset(l, 0, sizeof(*l));
}

void stw_image_free(struct stw_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->layer_count; i++)
		stw_layer_release(&img->layers[i]);
	free(img->layers);
	free(img->name);
	free(img->tag);
	free(img->config_json);
	free(img);
}

/* ---- reading ---- */

static int get_string(char **out, json_t *obj, const char *key, const char *what, int required)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v && !required)
		return 0;
	if (!json_is_string(v))
		return stw_error("%s: '%s' must be a string", what, key);
	*out = strdup(json_string_value(v));
	return *out ? 0 : stw_error("out of memory");
}

static int get_size(uint64_t *out, json_t *obj, const char *key, const char *what)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return stw_error("%s: '%s' must be a non-negative integer", what, key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_digest(char out[72], json_t *obj, const char *key, const char *what)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v) || !digest_is_valid(json_string_value(v)))
		return stw_error("%s: '%s' must be a sha256 digest", what, key);
	memcpy(out, json_string_value(v), STW_DIGEST_LEN + 1);
	return 0;
}

static int parse_perm(struct stw_perm_rule *r, json_t *o, const char *what)
{
	json_t *mode = json_object_get(o, "mode"), *uid = json_object_get(o, "uid"),
	       *gid = json_object_get(o, "gid");
	r->mode = -1;
	r->uid = r->gid = -1;
	if (!json_is_object(o) || get_string(&r->regex, o, "regex", what, 1) < 0)
		return stw_error("%s: a permission rule needs a 'regex'", what);
	if (mode) {
		/* octal digits only: strtol alone takes "" as 0 and skips
		 * blanks and a sign */
		const char *text = json_is_string(mode) ? json_string_value(mode) : "";
		char *end = NULL;
		long m = *text && !text[strspn(text, "01234567")] ? strtol(text, &end, 8) : -1;
		if (m < 0 || m > 07777 || *end)
			return stw_error("%s: permission mode must be an octal string like \"0755\"", what);
		r->mode = (int)m;
	}
	if (uid && (!json_is_integer(uid) || json_integer_value(uid) < 0))
		return stw_error("%s: 'uid' must be a non-negative integer", what);
	if (gid && (!json_is_integer(gid) || json_integer_value(gid) < 0))
		return stw_error("%s: 'gid' must be a non-negative integer", what);
	if (uid)
		r->uid = json_integer_value(uid);
	if (gid)
		r->gid = json_integer_value(gid);
	return 0;
}

static int parse_path(struct stw_layer_path *p, json_t *o, const char *what)
{
	json_t *rw;
	if (!json_is_object(o))
		return stw_error("%s: each path must be an object", what);
	if (get_string(&p->path, o, "path", what, 1) < 0)
		return -1;
	if (p->path[0] != '/')
		return stw_error("%s: path '%s' is not absolute", what, p->path);
	rw = json_object_get(o, "rewrite");
	if (rw && (get_string(&p->rewrite_regex, rw, "regex", what, 1) < 0 ||
		   get_string(&p->rewrite_repl, rw, "repl", what, 0) < 0))
		return -1;
	return 0;
}

static int parse_layer(struct stw_layer *l, json_t *o, size_t index)
{
	char what[64];
	json_t *paths, *perms, *item, *compression;
	size_t i;

	snprintf(what, sizeof(what), "layer %zu", index);
	if (!json_is_object(o))
		return stw_error("%s is not an object", what);
	if (get_digest(l->digest, o, "digest", what) < 0 || get_digest(l->diff_id, o, "diff_id", what) < 0 ||
	    get_size(&l->size, o, "size", what) < 0 || get_size(&l->tar_size, o, "tar_size", what) < 0)
		return -1;
	compression = json_object_get(o, "compression");
	if (!json_is_string(compression) ||
	    stw_compression_parse(&l->compression, json_string_value(compression)) < 0)
		return stw_error("%s: 'compression' must be none, gzip or zstd", what);
	paths = json_object_get(o, "paths");
	if (!json_is_array(paths))
		return stw_error("%s: 'paths' must be an array", what);
	l->paths = calloc(json_array_size(paths) + 1, sizeof(*l->paths));
	if (!l->paths)
		return stw_error("out of memory");
	json_array_foreach(paths, i, item) {
		if (parse_path(&l->paths[i], item, what) < 0) {
			l->path_count = i + 1;
			return -1;
		}
		l->path_count = i + 1;
	}
	perms = json_object_get(o, "perms");
	if (perms && !json_is_array(perms))
		return stw_error("%s: 'perms' must be an array", what);
	l->perms = calloc(json_array_size(perms) + 1, sizeof(*l->perms));
	if (!l->perms)
		return stw_error("out of memory");
	json_array_foreach(perms, i, item) {
		l->perm_count = i + 1;
		if (parse_perm(&l->perms[i], item, what) < 0)
			return -1;
	}
	return 0;
}

/* The config's rootfs must list exactly the layers' diff_ids. */
static int check_diff_ids(const struct stw_image *img, json_t *cfg)
{
	json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	if (!json_is_array(ids) || json_array_size(ids) != img->layer_count)
		return stw_error("config rootfs.diff_ids does not list the %zu layers", img->layer_count);
	for (size_t i = 0; i < img->layer_count; i++) {
		const char *id = json_string_value(json_array_get(ids, i));
		if (!id || strcmp(id, img->layers[i].diff_id) != 0)
			return stw_error("config rootfs.diff_ids[%zu] does not match layer %zu", i, i);
	}
	return 0;
}

static int parse_config(struct stw_image *img, json_t *root)
{
	json_t *cfg = json_object_get(root, "config");
	char digest[STW_DIGEST_LEN + 1];

	if (!json_is_object(cfg))
		return stw_error("'config' must be an object");
	if (get_digest(img->config_digest, root, "config_digest", "image") < 0)
		return -1;
	img->config_json = stw_json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
	if (!img->config_json)
		return stw_error("out of memory");
	if (sha256_digest(digest, img->config_json, strlen(img->config_json)) < 0)
		return -1;
	if (strcmp(digest, img->config_digest) != 0)
		return stw_error("config does not match config_digest %s (edited by hand?)", img->config_digest);
	if (check_diff_ids(img, cfg) < 0)
		return -1;
	img->has_config = 1;
	return 0;
}

int stw_image_parse(struct stw_image **out, const char *data, size_t len, const char *origin)
{
	struct stw_image *img = calloc(1, sizeof(*img));
	json_t *root = NULL, *kind, *version, *layers, *item;
	json_error_t err;
	size_t i;
	int ret = -1;

	*out = NULL;
	if (!img)
		return stw_error("out of memory");
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		stw_error("line %d: %s", err.line, err.text);
		goto out;
	}
	kind = json_object_get(root, "stowage");
	version = json_object_get(root, "version");
	if (!json_is_object(root) || !json_is_string(kind) ||
	    (strcmp(json_string_value(kind), "image") && strcmp(json_string_value(kind), "layers"))) {
		stw_error("not a stowage image or layer JSON (no \"stowage\": \"image\"|\"layers\")");
		goto out;
	}
	if (!json_is_integer(version) || json_integer_value(version) != STW_IMAGE_FORMAT_VERSION) {
		stw_error("unsupported format version (this stowage reads version %d)", STW_IMAGE_FORMAT_VERSION);
		goto out;
	}
	if (get_string(&img->name, root, "name", "image", 0) < 0 ||
	    get_string(&img->tag, root, "tag", "image", 0) < 0)
		goto out;
	layers = json_object_get(root, "layers");
	if (!json_is_array(layers)) {
		stw_error("'layers' must be an array");
		goto out;
	}
	img->layers = calloc(json_array_size(layers) + 1, sizeof(*img->layers));
	if (!img->layers) {
		stw_error("out of memory");
		goto out;
	}
	json_array_foreach(layers, i, item) {
		img->layer_count = i + 1;
		if (parse_layer(&img->layers[i], item, i) < 0)
			goto out;
	}
	if (!strcmp(json_string_value(kind), "image") && parse_config(img, root) < 0)
		goto out;
	*out = img;
	img = NULL;
	ret = 0;
out:
	if (ret < 0)
		stw_error_wrap("cannot read image JSON '%s'", origin);
	json_decref(root);
	stw_image_free(img);
	return ret;
}

int stw_image_load(struct stw_image **out, const char *path)
{
	struct buf b;
	int ret;

	*out = NULL;
	buf_init(&b);
	if (buf_read_file(&b, path, MAX_IMAGE_JSON) < 0)
		ret = -1;
	else
		ret = stw_image_parse(out, b.data, b.len, path);
	buf_release(&b);
	return ret;
}
