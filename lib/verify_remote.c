/*
 * stw_verify_remote: an image in a registry checked as a puller meets it.
 * Each layer blob streams once through
 *   size limit -> sha256 (blob digest) -> gunzip/zstd -> sha256 (diff_id) -> tar reader
 * and only the start of each file (its ELF header) is kept. A layer's
 * entries are staged and applied to the image view once the whole layer
 * arrived and matched its digests, so a bad layer never half-applies.
 */
#include "stowage/verify.h"

#include "decompress.h"
#include "digest.h"
#include "error.h"
#include "image_view.h"
#include "manifest.h"
#include "remote.h"
#include "sink.h"
#include "tar_reader.h"
#include "verify.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An index with more images than this is refused: bounded work. */
#define MAX_INDEX_IMAGES 64

/* One layer's entries and whiteouts, before they are applied. */
struct layer_stage {
	const struct image_view *lower;
	struct image_view staged;
	char **whiteouts;    /* paths they name */
	int *opaque;         /* ".wh..wh..opq": only what is below the path goes */
	size_t whiteout_count, whiteout_cap;
	size_t layer;
};

static void layer_stage_release(struct layer_stage *s)
{
	for (size_t i = 0; i < s->whiteout_count; i++)
		free(s->whiteouts[i]);
	free(s->whiteouts);
	free(s->opaque);
	image_view_release(&s->staged);
}

/* "a/b/.wh.c" hides "a/b/c"; "a/b/.wh..wh..opq" hides what "a/b" held. */
static int stage_whiteout(struct layer_stage *s, const char *path, const char *base)
{
	size_t dir_len = (size_t)(base - path);
	int opaque = !strcmp(base, ".wh..wh..opq");
	char *target;

	if (s->whiteout_count == s->whiteout_cap) {
		size_t cap = s->whiteout_cap ? s->whiteout_cap * 2 : 16;
		char **paths = realloc(s->whiteouts, cap * sizeof(*paths));
		int *kinds = paths ? realloc(s->opaque, cap * sizeof(*kinds)) : NULL;
		if (paths)
			s->whiteouts = paths;
		if (!kinds)
			return stw_error("out of memory");
		s->opaque = kinds;
		s->whiteout_cap = cap;
	}
	if (opaque)
		target = strndup(path, dir_len ? dir_len - 1 : 0);
	else if ((target = malloc(dir_len + strlen(base + 4) + 1)))
		snprintf(target, dir_len + strlen(base + 4) + 1, "%.*s%s", (int)dir_len, path, base + 4);
	if (!target)
		return stw_error("out of memory");
	s->whiteouts[s->whiteout_count] = target;
	s->opaque[s->whiteout_count++] = opaque;
	return 0;
}

/* A hard link's target: earlier in this layer, else in a lower one. */
static const struct view_entry *link_target(const struct layer_stage *s, const char *link)
{
	const struct view_entry *e;

	while (link[0] == '/' || (link[0] == '.' && link[1] == '/'))
		link += link[0] == '/' ? 1 : 2;
	e = image_view_get(&s->staged, link);
	return e ? e : image_view_get(s->lower, link);
}

static int on_entry(void *ctx, const struct tar_read_entry *te)
{
	struct layer_stage *s = ctx;
	const char *base = strrchr(te->path, '/');
	struct view_entry e = { .path = (char *)te->path, .mode = te->mode, .layer = s->layer };

	base = base ? base + 1 : te->path;
	if (!strncmp(base, ".wh.", 4))
		return stage_whiteout(s, te->path, base);
	switch (te->type) {
	case TAR_HARDLINK: {
		const struct view_entry *target = link_target(s, te->link);
		if (!target || target->type != TAR_FILE)
			return stw_error("hard link '/%s' points at '%s', which is no regular file of the image",
					 te->path, te->link);
		e.type = TAR_FILE;
		e.mode = target->mode;
		e.source = target->source;
		e.head_len = target->head_len;
		memcpy(e.head, target->head, target->head_len);
		break;
	}
	case TAR_FILE:
		e.type = TAR_FILE;
		e.head_len = te->head_len < VIEW_HEAD ? te->head_len : VIEW_HEAD;
		memcpy(e.head, te->head, e.head_len);
		break;
	case TAR_SYMLINK:
		e.type = TAR_SYMLINK;
		e.link = (char *)te->link;
		break;
	case TAR_DIR:
	case TAR_CHAR:
	case TAR_BLOCK_DEV:
	case TAR_FIFO:
		e.type = (enum tar_type)te->type;
		break;
	default:
		return 0; /* GNU sparse files, volume labels: nothing a runtime starts */
	}
	return image_view_add(&s->staged, &e);
}

static int stage_apply(struct layer_stage *s, struct image_view *view)
{
	if (image_view_whiteouts(view, (const char *const *)s->whiteouts, s->opaque, s->whiteout_count, s->layer) < 0)
		return -1;
	for (size_t i = 0; i < s->staged.count; i++)
		if (image_view_add(view, &s->staged.entries[i]) < 0)
			return -1;
	return 0;
}

/* The compression a layer media type names, by its suffix (the OCI,
 * non-distributable and Docker spellings). */
static int layer_compression(enum stw_compression *out, const char *media_type)
{
	static const struct {
		const char *suffix;
		enum stw_compression kind;
	} known[] = {
		{ ".tar+gzip", STW_COMPRESSION_GZIP }, { ".tar.gzip", STW_COMPRESSION_GZIP },
		{ ".tar+zstd", STW_COMPRESSION_ZSTD }, { ".tar.zstd", STW_COMPRESSION_ZSTD },
		{ ".tar", STW_COMPRESSION_NONE },
	};
	size_t n = media_type ? strlen(media_type) : 0;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		size_t k = strlen(known[i].suffix);
		if (n > k && !strcmp(media_type + n - k, known[i].suffix)) {
			*out = known[i].kind;
			return 0;
		}
	}
	return stw_error("unknown layer media type '%s'", media_type ? media_type : "(none)");
}

/*
 * First in a layer's pipe: refuses more bytes than the descriptor's size
 * (a hostile registry cannot stream forever), and when reading the layer
 * fails, still hashes the rest of the blob, so a blob the registry
 * corrupted is reported as such rather than as whatever broke in the tar.
 */
struct pull_guard {
	struct sink base;
	struct hash_sink *blob; /* keeps hashing after a failure */
	uint64_t size, bytes;
	int failed;
	char why[512];
};

static int guard_write(struct sink *s, const void *data, size_t len)
{
	struct pull_guard *g = (struct pull_guard *)s;

	if (len > g->size - g->bytes)
		return stw_error("the registry sent more than the %llu bytes the descriptor says",
				 (unsigned long long)g->size);
	g->bytes += len;
	if (g->failed)
		return sha256_update(&g->blob->sha, data, len);
	if (sink_write(s->next, data, len) < 0) {
		g->failed = 1;
		snprintf(g->why, sizeof(g->why), "%s", stw_error_last());
	}
	return 0;
}

static int guard_finish(struct sink *s)
{
	struct pull_guard *g = (struct pull_guard *)s;

	if (g->bytes != g->size)
		return stw_error("the registry sent %llu of the %llu bytes the descriptor says",
				 (unsigned long long)g->bytes, (unsigned long long)g->size);
	if (g->failed)
		return sha256_final(&g->blob->sha, g->blob->digest);
	return sink_finish(s->next);
}

struct layer_pipe {
	struct pull_guard guard;
	struct hash_sink blob;
	struct decompress_sink inflate;
	struct hash_sink tar;
	struct tar_reader reader;
};

static int layer_pipe_init(struct layer_pipe *p, enum stw_compression kind, uint64_t size, const char *origin,
			   struct layer_stage *stage)
{
	memset(p, 0, sizeof(*p));
	if (tar_reader_init(&p->reader, on_entry, stage, origin) < 0 || hash_sink_init(&p->tar, &p->reader.base) < 0 ||
	    decompress_sink_init(&p->inflate, kind, origin, &p->tar.base) < 0 ||
	    hash_sink_init(&p->blob, &p->inflate.base) < 0)
		return -1;
	p->guard.base.write = guard_write;
	p->guard.base.finish = guard_finish;
	p->guard.base.next = &p->blob.base;
	p->guard.blob = &p->blob;
	p->guard.size = size;
	return 0;
}

static void layer_pipe_release(struct layer_pipe *p)
{
	hash_sink_release(&p->blob);
	decompress_sink_release(&p->inflate);
	hash_sink_release(&p->tar);
	tar_reader_release(&p->reader);
}

/* Pulls layer index (descriptor desc) through the pipe into view. */
static int pull_layer(struct remote *r, struct image_view *view, json_t *desc, const char *diff_id, size_t index,
		      unsigned long long *bytes)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	json_t *size = json_object_get(desc, "size");
	struct layer_stage stage = { .lower = view, .layer = index };
	struct layer_pipe pipe;
	enum stw_compression kind = STW_COMPRESSION_NONE;
	char origin[64];
	int ret = -1;

	image_view_init(&stage.staged);
	memset(&pipe, 0, sizeof(pipe));
	if (!digest || !digest_is_valid(digest) || !json_is_integer(size) || json_integer_value(size) < 0) {
		stw_error("layer %zu: the manifest's descriptor has no valid digest and size", index);
		goto out;
	}
	snprintf(origin, sizeof(origin), "layer %zu (%.19s)", index, digest);
	if (layer_compression(&kind, json_string_value(json_object_get(desc, "mediaType"))) < 0 ||
	    layer_pipe_init(&pipe, kind, (uint64_t)json_integer_value(size), origin, &stage) < 0 ||
	    remote_get_blob_stream(r, digest, &pipe.guard.base) < 0 || sink_finish(&pipe.guard.base) < 0) {
		stw_error_wrap("%s", origin);
		goto out;
	}
	*bytes += pipe.guard.bytes;
	if (strcmp(pipe.blob.digest, digest) != 0) {
		stw_error("%s: the registry sent a blob whose digest is %s", origin, pipe.blob.digest);
		goto out;
	}
	if (pipe.guard.failed) {
		stw_error("%s", pipe.guard.why); /* the reader's words, which name the layer */
		goto out;
	}
	if (!diff_id || strcmp(pipe.tar.digest, diff_id) != 0) {
		stw_error("%s: its tar's digest %s is not the config's diff_id %s", origin, pipe.tar.digest,
			  diff_id ? diff_id : "(none)");
		goto out;
	}
	ret = stage_apply(&stage, view);
out:
	layer_pipe_release(&pipe);
	layer_stage_release(&stage);
	return ret;
}

static int same_field(json_t *platform, json_t *cfg, const char *key, int when_both)
{
	const char *want = json_string_value(json_object_get(platform, key));
	const char *have = json_string_value(json_object_get(cfg, key));

	if (when_both && (!want || !have))
		return 1;
	return want && have && !strcmp(want, have);
}

/* An index entry's platform must say what the image's config says. */
static int check_platform(json_t *platform, json_t *cfg)
{
	if (same_field(platform, cfg, "architecture", 0) && same_field(platform, cfg, "os", 0) &&
	    same_field(platform, cfg, "variant", 1))
		return 0;
	return stw_error("the index says %s/%s%s%s but the image config says %s/%s%s%s",
			 json_string_value(json_object_get(platform, "os")),
			 json_string_value(json_object_get(platform, "architecture")),
			 json_object_get(platform, "variant") ? "/" : "",
			 json_object_get(platform, "variant") ? json_string_value(json_object_get(platform, "variant")) : "",
			 json_string_value(json_object_get(cfg, "os")), json_string_value(json_object_get(cfg, "architecture")),
			 json_object_get(cfg, "variant") ? "/" : "",
			 json_object_get(cfg, "variant") ? json_string_value(json_object_get(cfg, "variant")) : "");
}

static json_t *fetch_json(struct remote *r, const char *kind, const char *reference, size_t max, char **media_type,
			  char digest[72], struct buf *body)
{
	json_t *j;

	if (remote_get(r, kind, reference, max, body, media_type, digest) < 0)
		return NULL;
	if (!(j = json_loadb(body->data ? body->data : "", body->len, 0, NULL)) || !json_is_object(j)) {
		json_decref(j);
		stw_error("%s %s is not a JSON object", !strcmp(kind, "blobs") ? "config" : "manifest", reference);
		return NULL;
	}
	return j;
}

/* One image manifest: its config, every layer, then the architecture. */
static int verify_image(struct remote *r, struct stw_verify_report *rep, json_t *manifest, json_t *platform)
{
	json_t *cdesc = json_object_get(manifest, "config"), *layers = json_object_get(manifest, "layers");
	const char *cdigest = json_string_value(json_object_get(cdesc, "digest"));
	json_t *cfg = NULL, *diff_ids, *layer;
	struct image_view view;
	struct buf body;
	char got[72];
	size_t i;
	int ret = -1;

	buf_init(&body);
	image_view_init(&view);
	if (!cdigest || !digest_is_valid(cdigest) || !json_is_array(layers)) {
		stw_error("the manifest has no valid config descriptor or layer list");
		goto out;
	}
	if (!(cfg = fetch_json(r, "blobs", cdigest, MAX_CONFIG, NULL, got, &body)))
		goto out;
	if (json_integer_value(json_object_get(cdesc, "size")) != (json_int_t)body.len) {
		stw_error("config %s is %zu bytes, not the %lld its descriptor says", cdigest, body.len,
			  (long long)json_integer_value(json_object_get(cdesc, "size")));
		goto out;
	}
	if (verify_report_config(rep, cfg) < 0 || (platform && check_platform(platform, cfg) < 0))
		goto out;
	diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	if (json_array_size(diff_ids) != json_array_size(layers)) {
		stw_error("the manifest has %zu layers but the config %zu diff_ids", json_array_size(layers),
			  json_array_size(diff_ids));
		goto out;
	}
	json_array_foreach(layers, i, layer) {
		if (pull_layer(r, &view, layer, json_string_value(json_array_get(diff_ids, i)), i,
			       &rep->bytes_pulled) < 0)
			goto out;
		rep->layers_verified++;
	}
	ret = verify_view(rep, cfg, &view);
out:
	image_view_release(&view);
	buf_release(&body);
	json_decref(cfg);
	return ret;
}

static int is_index_type(const char *t)
{
	return t && (!strcmp(t, OCI_INDEX_TYPE) || !strcmp(t, DOCKER_LIST_TYPE));
}

/* The media type a manifest declares, else the one it was served as. */
static const char *declared_type(json_t *m, const char *served)
{
	const char *t = json_string_value(json_object_get(m, "mediaType"));
	return t ? t : served;
}

/* Attestations (buildkit's "unknown/unknown" entries) run nowhere. */
static int is_attestation(json_t *entry)
{
	const char *os = json_string_value(json_object_get(json_object_get(entry, "platform"), "os"));
	return os && !strcmp(os, "unknown");
}

static int verify_child(struct remote *r, struct stw_verify_report *rep, json_t *entry)
{
	const char *digest = json_string_value(json_object_get(entry, "digest"));
	char *media_type = NULL, got[72];
	struct buf body;
	json_t *m = NULL;
	int ret = -1;

	buf_init(&body);
	if (!digest || !digest_is_valid(digest)) {
		stw_error("an index entry has no valid digest");
		goto out;
	}
	if (verify_set_string(&rep->digest, digest) < 0 ||
	    !(m = fetch_json(r, "manifests", digest, MAX_MANIFEST, &media_type, got, &body)))
		goto out;
	if (is_index_type(declared_type(m, media_type))) {
		stw_error("an index inside an index is not supported");
		goto out;
	}
	ret = verify_image(r, rep, m, json_object_get(entry, "platform"));
out:
	if (ret < 0)
		stw_error_wrap("image %s", digest ? digest : "(no digest)");
	free(media_type);
	json_decref(m);
	buf_release(&body);
	return ret;
}

static int verify_index(struct remote *r, struct stw_verify_remote *out, json_t *index)
{
	json_t *list = json_object_get(index, "manifests"), *entry;
	size_t i, n = 0;

	json_array_foreach(list, i, entry)
		n += !is_attestation(entry);
	if (!n)
		return stw_error("the index lists no image");
	if (n > MAX_INDEX_IMAGES)
		return stw_error("the index lists %zu images, more than %d", n, MAX_INDEX_IMAGES);
	if (!(out->images = calloc(n, sizeof(*out->images))))
		return stw_error("out of memory");
	json_array_foreach(list, i, entry) {
		if (is_attestation(entry))
			continue;
		stw_verify_report_init(&out->images[out->image_count]);
		if (verify_child(r, &out->images[out->image_count++], entry) < 0)
			return -1;
	}
	return 0;
}

void stw_verify_remote_release(struct stw_verify_remote *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->image_count; i++)
		stw_verify_report_release(&v->images[i]);
	free(v->images);
	free(v->digest);
	free(v->media_type);
	memset(v, 0, sizeof(*v));
}

int stw_verify_remote(struct stw_verify_remote *out, const char *ref, const struct stw_registry_options *opts)
{
	struct remote r;
	struct buf body;
	char digest[72];
	json_t *m = NULL;
	const char *type;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	buf_init(&body);
	if (remote_open(&r, ref, "pull", opts) < 0)
		goto out;
	if (!(m = fetch_json(&r, "manifests", remote_reference(&r), MAX_MANIFEST, &out->media_type, digest, &body)))
		goto out;
	if (!(out->digest = strdup(digest))) {
		stw_error("out of memory");
		goto out;
	}
	type = declared_type(m, out->media_type);
	if (is_index_type(type)) {
		out->is_index = 1;
		ret = verify_index(&r, out, m);
	} else if (json_is_object(json_object_get(m, "config"))) {
		if (!(out->images = calloc(1, sizeof(*out->images)))) {
			stw_error("out of memory");
			goto out;
		}
		out->image_count = 1;
		if (verify_set_string(&out->images[0].digest, digest) < 0)
			goto out;
		ret = verify_image(&r, &out->images[0], m, NULL);
	} else {
		stw_error("not an image manifest or index (media type '%s')", type ? type : "none");
	}
out:
	if (ret < 0)
		stw_error_wrap("cannot verify '%s'", ref);
	json_decref(m);
	buf_release(&body);
	remote_close(&r);
	return ret;
}
