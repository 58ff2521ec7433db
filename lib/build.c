/*
 * stw_build: lower layers first (deduplicated by digest), then the store
 * paths of the closure that no lower layer holds, grouped by the layering
 * strategy, then one layer with the copy-to-root trees on top. Layer
 * digests are computed in parallel, each through the digest cache; a
 * compressed layer computed is kept in the blob cache for push and copy.
 */
#include "stowage/build.h"
#include "blob_cache.h"
#include "digest_cache.h"
#include "error.h"
#include "layer_lanes.h"
#include "layer_tar.h"
#include "layering.h"
#include "oci_config.h"
#include "pool.h"
#include "sha256_lanes.h"
#include "strmap.h"
#include "tree.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_LAYERS 100

struct build {
	const struct stw_build_options *opts;
	const char *store_dir;
	struct stw_image *img;
	size_t first_new; /* layers before this index came from --layer */
	size_t *todo;     /* indices of layers whose digests must be computed */
	size_t todo_count;
	int lanes;        /* uncompressed layers are left to layer_lanes_digests */
	size_t *deferred; /* those layers: todo positions, in any order */
	atomic_size_t deferred_count;
	char (*keys)[72]; /* digest cache keys, by todo position */
	const struct stw_graph *graph; /* the closure: the sizes of its paths */
	atomic_size_t computed, cached;
	atomic_uint_fast64_t bytes_hashed;
};

static char *dup_or_null(const char *s, int *failed)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*failed = 1;
	return d;
}

static int layer_copy(struct stw_layer *dst, const struct stw_layer *src)
{
	int failed = 0;

	*dst = *src;
	dst->paths = calloc(src->path_count + 1, sizeof(*dst->paths));
	dst->perms = calloc(src->perm_count + 1, sizeof(*dst->perms));
	dst->path_count = dst->perm_count = 0;
	if (!dst->paths || !dst->perms)
		return stw_error("out of memory");
	for (size_t i = 0; i < src->path_count; i++, dst->path_count++) {
		dst->paths[i].path = dup_or_null(src->paths[i].path, &failed);
		dst->paths[i].rewrite_regex = dup_or_null(src->paths[i].rewrite_regex, &failed);
		dst->paths[i].rewrite_repl = dup_or_null(src->paths[i].rewrite_repl, &failed);
	}
	for (size_t i = 0; i < src->perm_count; i++, dst->perm_count++) {
		dst->perms[i] = src->perms[i];
		dst->perms[i].regex = dup_or_null(src->perms[i].regex, &failed);
	}
	return failed ? stw_error("out of memory") : 0;
}

static struct stw_layer *image_push_layer(struct stw_image *img)
{
	struct stw_layer *v = realloc(img->layers, (img->layer_count + 1) * sizeof(*v));
	if (!v) {
		stw_error("out of memory");
		return NULL;
	}
	img->layers = v;
	memset(&v[img->layer_count], 0, sizeof(*v));
	return &v[img->layer_count++];
}

static int todo_push(struct build *b, size_t index)
{
	size_t *v = realloc(b->todo, (b->todo_count + 1) * sizeof(*v));
	if (!v)
		return stw_error("out of memory");
	b->todo = v;
	b->todo[b->todo_count++] = index;
	return 0;
}

/* Drops the store paths an earlier lower layer already holds. Returns the
 * number of paths dropped. */
static size_t drop_held_paths(struct stw_layer *l, const struct strmap *held)
{
	size_t kept = 0, ignored;
	for (size_t k = 0; k < l->path_count; k++) {
		struct stw_layer_path *p = &l->paths[k];
		if (!p->rewrite_regex && strmap_get(held, p->path, &ignored)) {
			free(p->path);
			free(p->rewrite_repl);
			continue;
		}
		l->paths[kept++] = *p;
	}
	ignored = l->path_count - kept;
	l->path_count = kept;
	return ignored;
}

/* Lower layers in order, each digest once. Siblings are deduplicated too:
 * a later layer holding store paths an earlier one already holds is
 * rebuilt without them (or left out when nothing remains), so no path is
 * in the image twice. Records the store paths they hold so the new layers
 * leave them out. */
static int add_lower_layers(struct build *b, struct strmap *held, struct strmap *seen)
{
	for (size_t i = 0; i < b->opts->lower_count; i++) {
		const struct stw_image *lower = b->opts->lower[i];
		for (size_t j = 0; j < lower->layer_count; j++) {
			const struct stw_layer *src = &lower->layers[j];
			struct stw_layer *dst;
			size_t ignored;
			if (strmap_get(seen, src->digest, &ignored))
				continue;
			if (strmap_put(seen, src->digest, 0) < 0)
				return -1;
			dst = image_push_layer(b->img);
			if (!dst || layer_copy(dst, src) < 0)
				return -1;
			if (drop_held_paths(dst, held)) {
				if (!dst->path_count) {
					stw_layer_release(dst);
					b->img->layer_count--;
					continue;
				}
				if (todo_push(b, b->img->layer_count - 1) < 0)
					return -1;
			}
			for (size_t k = 0; k < dst->path_count; k++)
				if (!dst->paths[k].rewrite_regex && strmap_put(held, dst->paths[k].path, 0) < 0)
					return -1;
		}
	}
	return 0;
}

static int set_perms(struct stw_layer *l, const struct stw_build_options *o)
{
	l->perms = calloc(o->perm_count + 1, sizeof(*l->perms));
	if (!l->perms)
		return stw_error("out of memory");
	for (size_t i = 0; i < o->perm_count; i++, l->perm_count++) {
		l->perms[i] = o->perms[i];
		l->perms[i].regex = strdup(o->perms[i].regex);
		if (!l->perms[i].regex)
			return stw_error("out of memory");
	}
	return 0;
}

/* NAR sizes are missing for plain directories: sum the tree instead. */
static int tree_size(uint64_t *out, const char *path)
{
	struct stw_layer_path lp = { .path = (char *)path };
	struct stw_layer l = { .paths = &lp, .path_count = 1 };
	struct tree t;
	int ret;

	tree_init(&t);
	ret = tree_collect(&t, &l);
	*out = 0;
	for (size_t i = 0; !ret && i < t.count; i++)
		*out += t.entries[i].size + 512;
	tree_release(&t);
	return ret;
}

static int add_store_layers(struct build *b, struct stw_graph *g, const struct strmap *held, size_t max)
{
	size_t n = stw_graph_count(g);
	unsigned char *include = calloc(n ? n : 1, 1);
	struct layer_plan plan = { 0 };
	int ret = -1;

	if (!include)
		return stw_error("out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t ignored;
		const char *path = stw_graph_path(g, i);
		int is_root = 0;
		for (size_t r = 0; r < b->opts->root_count; r++)
			is_root |= !strcmp(b->opts->roots[r], path);
		include[i] = !is_root && !strmap_get(held, path, &ignored);
		if (include[i] && !stw_graph_nar_size(g, i) && b->opts->strategy == STW_STRATEGY_SIZE) {
			uint64_t size;
			if (tree_size(&size, path) < 0)
				goto out;
			stw_graph_set_nar_size(g, i, size);
		}
	}
	if (layer_plan_make(&plan, g, include, b->opts->strategy, max) < 0)
		goto out;
	for (size_t i = 0; i < plan.count; i++) {
		struct stw_layer *l = image_push_layer(b->img);
		if (!l)
			goto out;
		l->compression = b->opts->compression;
		l->paths = calloc(plan.group_len[i], sizeof(*l->paths));
		if (!l->paths) {
			stw_error("out of memory");
			goto out;
		}
		for (size_t k = 0; k < plan.group_len[i]; k++, l->path_count++) {
			l->paths[k].path = strdup(stw_graph_path(g, plan.groups[i][k]));
			if (!l->paths[k].path) {
				stw_error("out of memory");
				goto out;
			}
		}
		if (set_perms(l, b->opts) < 0)
			goto out;
	}
	ret = 0;
out:
	layer_plan_release(&plan);
	free(include);
	return ret;
}

static char *regex_escape_prefix(const char *path)
{
	size_t len = strlen(path);
	char *out = malloc(2 * len + 2), *p = out;

	if (!out)
		return NULL;
	*p++ = '^';
	for (const char *s = path; *s; s++) {
		if (strchr(".[]()*+?{}|^$\\", *s))
			*p++ = '\\';
		*p++ = *s;
	}
	*p = 0;
	return out;
}

static int add_root_layer(struct build *b)
{
	struct stw_layer *l;

	if (!b->opts->root_count)
		return 0;
	l = image_push_layer(b->img);
	if (!l)
		return -1;
	l->compression = b->opts->compression;
	l->paths = calloc(b->opts->root_count, sizeof(*l->paths));
	if (!l->paths)
		return stw_error("out of memory");
	for (size_t i = 0; i < b->opts->root_count; i++) {
		struct stw_layer_path *p = &l->paths[i];
		l->path_count++; /* counted first: what a failure leaves is freed with the layer */
		p->path = strdup(b->opts->roots[i]);
		p->rewrite_regex = regex_escape_prefix(b->opts->roots[i]);
		p->rewrite_repl = strdup("");
		if (!p->path || !p->rewrite_regex || !p->rewrite_repl)
			return stw_error("out of memory");
	}
	return set_perms(l, b->opts);
}

static void layer_set_digests(struct stw_layer *l, const struct layer_digests *d)
{
	memcpy(l->diff_id, d->diff_id, sizeof(l->diff_id));
	memcpy(l->digest, d->digest, sizeof(l->digest));
	l->tar_size = d->tar_size;
	l->size = d->size;
}

static int compute_layer(void *ctx, size_t index)
{
	struct build *b = ctx;
	struct stw_layer *l = &b->img->layers[b->todo[index]];
	struct layer_digests d;
	char key[72];
	const char *cache = b->opts->cache_dir;
	const struct blob_cache blobs = { cache, b->opts->blob_cache_max };
	int from_cache;

	if (cache && digest_cache_key(key, l, b->store_dir) < 0)
		return -1;
	if (cache && digest_cache_get(cache, key, &d)) {
		atomic_fetch_add(&b->cached, 1);
	} else if (b->lanes && l->compression == STW_COMPRESSION_NONE) {
		if (cache)
			memcpy(b->keys[index], key, sizeof(key));
		b->deferred[atomic_fetch_add(&b->deferred_count, 1)] = index;
		return 0;
	} else {
		/* FILL: a layer from --layer may still carry its old digest */
		if (blob_cache_compute(&blobs, BLOB_CACHE_FILL, l, NULL, &d, &from_cache) < 0)
			return -1;
		atomic_fetch_add(&b->computed, 1);
		atomic_fetch_add(&b->bytes_hashed, d.tar_size);
		if (cache)
			digest_cache_put(cache, key, &d);
	}
	layer_set_digests(l, &d);
	return 0;
}

struct sized {
	size_t position; /* in todo */
	uint64_t bytes;  /* the NAR sizes of the layer's store paths */
};

/* Largest first, then image order: the last layers a thread takes are
 * the small ones, so no thread is left hashing a big layer alone while
 * the other has nothing to do. */
static int compare_sized(const void *a, const void *b)
{
	const struct sized *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->position < y->position ? -1 : x->position > y->position;
}

static uint64_t layer_bytes(const struct build *b, const struct stw_layer *l)
{
	uint64_t bytes = 0;
	size_t node;

	for (size_t i = 0; i < l->path_count; i++)
		if (stw_graph_find(b->graph, l->paths[i].path, &node))
			bytes += stw_graph_nar_size(b->graph, node);
	return bytes;
}

/* The uncompressed layers compute_layer left: hashed two a thread. */
static int compute_deferred(struct build *b)
{
	size_t n = atomic_load(&b->deferred_count);
	const struct stw_layer **layers = calloc(n ? n : 1, sizeof(*layers));
	struct layer_digests *d = calloc(n ? n : 1, sizeof(*d));
	struct sized *order = calloc(n ? n : 1, sizeof(*order));
	int ret = -1;

	if (!layers || !d || !order) {
		stw_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = (struct sized){ b->deferred[i], layer_bytes(b, &b->img->layers[b->todo[b->deferred[i]]]) };
	qsort(order, n, sizeof(*order), compare_sized);
	for (size_t i = 0; i < n; i++)
		layers[i] = &b->img->layers[b->todo[order[i].position]];
	if (layer_lanes_digests(layers, n, b->opts->jobs, d) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		layer_set_digests(&b->img->layers[b->todo[order[i].position]], &d[i]);
		atomic_fetch_add(&b->bytes_hashed, d[i].tar_size);
		if (b->opts->cache_dir)
			digest_cache_put(b->opts->cache_dir, b->keys[order[i].position], &d[i]);
	}
	atomic_fetch_add(&b->computed, n);
	ret = 0;
out:
	free(layers);
	free(d);
	free(order);
	return ret;
}

/* Every todo layer through the digest cache, the uncompressed misses
 * hashed in lanes where the CPU allows. */
static int compute_layers(struct build *b)
{
	b->lanes = sha256_lanes_available();
	atomic_init(&b->deferred_count, 0);
	if (b->lanes) {
		b->deferred = calloc(b->todo_count ? b->todo_count : 1, sizeof(*b->deferred));
		b->keys = calloc(b->todo_count ? b->todo_count : 1, sizeof(*b->keys));
		if (!b->deferred || !b->keys)
			return stw_error("out of memory");
	}
	if (pool_run(b->todo_count, b->opts->jobs, compute_layer, b) < 0)
		return -1;
	return b->lanes ? compute_deferred(b) : 0;
}

static int set_names(struct stw_image *img, const struct stw_build_options *o)
{
	int failed = 0;
	img->name = dup_or_null(o->name, &failed);
	img->tag = dup_or_null(o->tag, &failed);
	return failed ? stw_error("out of memory") : 0;
}

int stw_build(struct stw_image **out, const struct stw_build_options *o, struct stw_build_stats *stats)
{
	struct build b = { .opts = o, .store_dir = o->store_dir ? o->store_dir : "/nix/store" };
	struct strmap held, seen;
	struct stw_graph *graph = NULL;
	size_t max = o->max_layers ? o->max_layers : DEFAULT_MAX_LAYERS, used;
	int ret = -1;

	*out = NULL;
	strmap_init(&held);
	strmap_init(&seen);
	b.img = calloc(1, sizeof(*b.img));
	if (!b.img || stw_graph_new(&graph) < 0) {
		stw_error("out of memory");
		goto out;
	}
	if (set_names(b.img, o) < 0 || add_lower_layers(&b, &held, &seen) < 0)
		goto out;
	b.first_new = b.img->layer_count;
	used = b.img->layer_count + (o->root_count ? 1 : 0);
	if (used > max) {
		stw_error("the %zu lower layers and the root layer exceed --max-layers %zu", b.img->layer_count, max);
		goto out;
	}
	if (o->closure && (stw_graph_merge(graph, o->closure) < 0 || stw_graph_check_acyclic(graph) < 0))
		goto out;
	if (add_store_layers(&b, graph, &held, max - used) < 0 || add_root_layer(&b) < 0)
		goto out;
	atomic_init(&b.computed, 0);
	atomic_init(&b.cached, 0);
	atomic_init(&b.bytes_hashed, 0);
	for (size_t i = b.first_new; i < b.img->layer_count; i++)
		if (todo_push(&b, i) < 0)
			goto out;
	b.graph = graph;
	if (compute_layers(&b) < 0)
		goto out;
	if (o->config && oci_config_build(b.img, o->config) < 0)
		goto out;
	if (stats) {
		stats->layers_computed = atomic_load(&b.computed);
		stats->layers_cached = atomic_load(&b.cached);
		stats->bytes_hashed = atomic_load(&b.bytes_hashed);
	}
	*out = b.img;
	b.img = NULL;
	ret = 0;
out:
	stw_image_free(b.img);
	free(b.todo);
	free(b.deferred);
	free(b.keys);
	stw_graph_free(graph);
	strmap_release(&held);
	strmap_release(&seen);
	return ret;
}
