/*
 * The publishing flow (docs/release-cli.md): per-architecture images
 * pushed by digest, an index over those digests under the primary tag,
 * every further tag added server-side; a single image goes straight to
 * the primary tag. Options are borrowed; results are released with
 * stw_release_result_release; tag lists with stw_release_tags_free.
 */
#ifndef STOWAGE_RELEASE_H
#define STOWAGE_RELEASE_H

#include "stowage/registry.h"

#define STW_AUTO_TAG_MAJOR 1u
#define STW_AUTO_TAG_MINOR 2u
#define STW_AUTO_TAG_BRANCH 4u

/* The tags of a release, primary first: the version without a leading
 * 'v'; the explicit tags; "latest" when there are none and branch equals
 * default_branch; MAJOR.MINOR / MAJOR (not for prereleases) and the
 * branch as asked in auto. Duplicates dropped. */
int stw_release_tags(char ***out, size_t *count, const char *version, const char *const *tags, size_t tag_count,
		     const char *branch, const char *default_branch, unsigned auto_tags);
void stw_release_tags_free(char **tags, size_t count);

struct stw_release_options {
	const struct stw_image *const *images; /* one per architecture */
	size_t image_count;
	const char *const *repositories;       /* HOST[:PORT]/REPO, each gets every tag */
	size_t repository_count;
	const char *const *tags;               /* from stw_release_tags: primary first */
	size_t tag_count;
	int arch_tags;                         /* also VERSION-<arch> per image */
	const char *const *annotations;        /* "K=V" on the index */
	size_t annotation_count;
	int dry_run;                           /* no request: each planned one goes to plan() */
	void (*plan)(void *ctx, const char *line);
	void *plan_ctx;
	struct stw_registry_options registry;
};

struct stw_release_image {
	char architecture[32];
	char digest[72];
	uint64_t bytes_uploaded;
};

struct stw_release_repository {
	char repository[512];
	char digest[72];   /* what the primary tag points at */
	int index;         /* 1: an index, 0: a single image's manifest */
	struct stw_release_image *images;
	size_t image_count;
};

struct stw_release_result {
	struct stw_release_repository *repositories;
	size_t repository_count;
	uint64_t planned_bytes; /* dry run: what would be uploaded at most */
};

int stw_release(struct stw_release_result *out, const struct stw_release_options *opts);
void stw_release_result_release(struct stw_release_result *r);

#endif
