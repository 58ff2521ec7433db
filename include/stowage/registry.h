/*
 * Registry delivery: push an image (only missing blobs are sent; blobs
 * stowage pushed to another repository of the same registry are mounted),
 * add tags server-side, read a remote manifest. A push publishes its
 * manifest only after every blob is in place and verified, so a failed
 * push never leaves a manifest that references a missing or wrong blob.
 * Callers own what they pass; results are released with their _release.
 */
#ifndef STOWAGE_REGISTRY_H
#define STOWAGE_REGISTRY_H

#include "stowage/image.h"

enum stw_blob_action { STW_BLOB_UPLOADED, STW_BLOB_SKIPPED, STW_BLOB_MOUNTED };

/* Progress of one blob, reported from the pushing threads (a callback
 * must be thread-safe). BYTES events come at most every 256 KiB. */
enum stw_progress_event { STW_PROGRESS_START, STW_PROGRESS_BYTES, STW_PROGRESS_DONE };

struct stw_progress {
	enum stw_progress_event event;
	size_t index;        /* layers 0..count-2, the config last */
	size_t count;
	const char *digest;
	uint64_t size;
	uint64_t bytes;      /* sent so far */
	enum stw_blob_action action; /* with DONE */
};

typedef void (*stw_progress_fn)(void *ctx, const struct stw_progress *progress);

struct stw_registry_options {
	const char *creds;                  /* "USER:PASS", or NULL */
	const char *const *auth_files;      /* docker config.json-shaped files, tried in order */
	size_t auth_file_count;
	const char *github_actor;           /* used when nothing else gives credentials */
	const char *github_token;
	const char *cert_dir;               /* trust DIR/\*.crt as well as the system CAs */
	int tls_verify;                     /* 0: --tls-verify=false (plain HTTP, any certificate) */
	int jobs;                           /* blobs in parallel; <= 0: 4 */
	int docker_format;                  /* 1: Docker schema 2 media types instead of OCI */
	const char *cache_dir;              /* record of pushed blob locations; NULL: none */
	uint64_t blob_cache_max;            /* compressed layers read from (and kept in)
					       cache_dir/blobs, at most this many bytes; 0: none */
	stw_progress_fn progress;           /* NULL: no reports */
	void *progress_ctx;
};

struct stw_push_blob {
	char digest[72];
	uint64_t size;
	enum stw_blob_action action;
	char mounted_from[256]; /* repository, when mounted */
};

struct stw_push_result {
	char manifest_digest[72];
	char reference[512]; /* HOST/REPO:TAG as pushed */
	struct stw_push_blob *layers;
	size_t layer_count;
	struct stw_push_blob config;
	uint64_t bytes_uploaded, bytes_skipped, bytes_mounted;
	size_t layers_from_cache; /* uploaded from the blob cache, not synthesised */
};

const char *stw_blob_action_name(enum stw_blob_action a);

/* ref: HOST[:PORT]/REPO[:TAG]; the tag defaults to the image's, then "latest". */
int stw_push(struct stw_push_result *out, const struct stw_image *img, const char *ref,
	     const struct stw_registry_options *opts);
/* The same, to HOST[:PORT]/REPO by digest: no tag is set or moved. */
int stw_push_by_digest(struct stw_push_result *out, const struct stw_image *img, const char *repository,
		       const struct stw_registry_options *opts);
void stw_push_result_release(struct stw_push_result *r);

/* Puts the manifest of ref under each of tags, sending only the manifest. */
int stw_tag(char digest_out[72], const char *ref, const char *const *tags, size_t tag_count,
	    const struct stw_registry_options *opts);

/* Pushes an image index (a Docker manifest list with docker_format) under
 * tag_ref (HOST/REPO:TAG) listing children (HOST/REPO@DIGEST, in the same
 * repository, pushed before), each with the platform its config names;
 * annotations are "K=V" (OCI only). Children are read by digest and
 * verified, never by tag. */
int stw_index(char digest_out[72], const char *tag_ref, const char *const *children, size_t child_count,
	      const char *const *annotations, size_t annotation_count, const struct stw_registry_options *opts);

/* The remote manifest (or index) of ref and, for an image, its config, as
 * JSON: {"reference","manifest_digest","media_type","manifest","config"}. */
int stw_remote_inspect(char **json_out, const char *ref, const struct stw_registry_options *opts);

#endif
