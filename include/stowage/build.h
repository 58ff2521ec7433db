/*
 * Building image and layer JSON: layering a closure, synthesising each
 * layer's tar to compute its digests (in parallel, through the digest
 * cache), and assembling the OCI config. Nothing is written but the
 * returned model; the caller serialises it with stw_image_to_json.
 * Options are borrowed for the duration of the call.
 */
#ifndef STOWAGE_BUILD_H
#define STOWAGE_BUILD_H

#include "stowage/graph.h"
#include "stowage/image.h"

enum stw_strategy {
	STW_STRATEGY_SIZE,
	STW_STRATEGY_POPULARITY,
};

int stw_strategy_parse(enum stw_strategy *out, const char *name);

/* The OCI config fields a user sets. Arrays are borrowed. */
struct stw_image_config {
	const char *architecture; /* OCI name or alias (x86_64, aarch64, ...) */
	const char *os;           /* default "linux" */
	const char *variant;      /* default from the architecture (arm64: v8) */
	const char *created;      /* RFC 3339; default 1970-01-01T00:00:01Z */
	const char *author;
	const char *user;
	const char *workdir;
	const char *const *entrypoint; size_t entrypoint_count; int has_entrypoint;
	const char *const *cmd; size_t cmd_count; int has_cmd;
	const char *const *env; size_t env_count;       /* "K=V" */
	const char *const *labels; size_t label_count;  /* "K=V" */
	const char *const *exposed; size_t exposed_count; /* "80", "80/tcp", "53/udp" */
	const char *const *volumes; size_t volume_count;
};

/* Normalises an architecture name ("x86_64", "aarch64-linux", "arm64")
 * to the OCI architecture and its default variant (NULL when none). */
int stw_arch_normalise(const char **arch, const char **variant, const char *name);

struct stw_build_options {
	const char *store_dir;            /* default "/nix/store" */
	const struct stw_graph *closure;  /* paths for the store layers; may be NULL */
	const char *const *roots;         /* copy-to-root trees, absolute, resolved */
	size_t root_count;
	struct stw_image *const *lower;   /* --layer inputs, bottom first */
	size_t lower_count;
	enum stw_strategy strategy;
	size_t max_layers;                /* whole image; default 100 */
	enum stw_compression compression;
	const struct stw_perm_rule *perms;
	size_t perm_count;
	const char *cache_dir;            /* NULL: no digest cache */
	uint64_t blob_cache_max;          /* compressed layers kept in cache_dir/blobs for push and
					     copy, at most this many bytes; 0: none */
	int jobs;                         /* parallel layer hashing; <= 0: one per core */
	const struct stw_image_config *config; /* NULL: a layer JSON */
	const char *name, *tag;
};

/* What a build did, for progress and benchmarks. */
struct stw_build_stats {
	size_t layers_computed;
	size_t layers_cached;
	uint64_t bytes_hashed;
};

int stw_build(struct stw_image **out, const struct stw_build_options *opts,
	      struct stw_build_stats *stats);

#endif
