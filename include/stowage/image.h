/*
 * The image model: what `stowage build` writes and `stowage copy` reads.
 * Ownership: a struct stw_image owns every string and array reachable from
 * it; stw_image_free releases all of it. The JSON format is documented in
 * docs/image-json.md.
 */
#ifndef STOWAGE_IMAGE_H
#define STOWAGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define STW_IMAGE_FORMAT_VERSION 1

enum stw_compression {
	STW_COMPRESSION_NONE,
	STW_COMPRESSION_GZIP,
	STW_COMPRESSION_ZSTD,
};

/* "none", "gzip", "zstd". */
const char *stw_compression_name(enum stw_compression c);
int stw_compression_parse(enum stw_compression *out, const char *name);
/* The OCI layer media type for a compression. */
const char *stw_layer_media_type(enum stw_compression c);

/* A permission rule, applied to every entry whose image path (absolute,
 * e.g. "/tmp") matches the POSIX extended regex. -1 leaves a field alone. */
struct stw_perm_rule {
	char *regex;
	int mode;       /* permission bits incl. setuid/setgid/sticky, or -1 */
	long long uid;  /* or -1 */
	long long gid;  /* or -1 */
};

/* A tree placed in a layer. With a rewrite, the first match of the POSIX
 * extended regex in each source path is replaced by repl (copy-to-root). */
struct stw_layer_path {
	char *path;
	char *rewrite_regex; /* NULL: placed at its own path */
	char *rewrite_repl;
};

struct stw_layer {
	char digest[72];  /* blob digest (compressed bytes) */
	char diff_id[72]; /* digest of the uncompressed tar */
	uint64_t size;    /* blob size */
	uint64_t tar_size;/* uncompressed tar size */
	enum stw_compression compression;
	struct stw_layer_path *paths;
	size_t path_count;
	struct stw_perm_rule *perms;
	size_t perm_count;
};

struct stw_image {
	int has_config;    /* 0 for a layer JSON (stowage layer) */
	char *name;        /* may be NULL */
	char *tag;         /* may be NULL */
	char *config_json; /* canonical OCI config bytes, NULL without config */
	char config_digest[72];
	struct stw_layer *layers;
	size_t layer_count;
};

/* Reads an image JSON or layer JSON file (also nix2container's image JSON
 * is not read yet). Verifies digests' syntax and the config digest. */
int stw_image_load(struct stw_image **out, const char *path);
int stw_image_parse(struct stw_image **out, const char *data, size_t len, const char *origin);
/* Serialises to the canonical JSON (sorted keys, 2-space indent, final
 * newline); same image, same bytes. The caller frees *out. */
int stw_image_to_json(char **out, const struct stw_image *img);
void stw_image_free(struct stw_image *img);

void stw_layer_release(struct stw_layer *layer);
void stw_perm_rule_release(struct stw_perm_rule *rule);

#endif
