/*
 * An image's file system as a reader sees it after unpacking every layer
 * in order: a path in a higher layer hides the same path in a lower one,
 * OCI whiteouts remove lower paths, and symlinks are followed inside the
 * image, never on the host. Entries come from local layer trees (content
 * read from their source file when asked) or from a pulled layer's tar
 * stream (the start of each file's content kept in the entry).
 * A struct image_view owns copies of everything added to it.
 */
#ifndef STW_LIB_IMAGE_VIEW_H
#define STW_LIB_IMAGE_VIEW_H

#include "strmap.h"
#include "tar_header.h"

#include <jansson.h>
#include <stddef.h>

#define VIEW_HEAD 64

struct view_entry {
	char *path;   /* tar path, "nix/store/...-fd/bin/fd": no leading or trailing '/' */
	char *link;   /* symlink target, or NULL */
	char *source; /* local file with the content, or NULL */
	enum tar_type type;
	unsigned mode;
	unsigned char head[VIEW_HEAD]; /* the content's start, when source is NULL */
	size_t head_len;
	size_t layer;
	int hidden; /* removed by a whiteout in a higher layer */
};

struct image_view {
	struct view_entry *entries;
	size_t count, cap;
	struct strmap visible; /* path -> index of the top layer's entry */
};

void image_view_init(struct image_view *v);
void image_view_release(struct image_view *v);

/* Adds a copy of e (its strings duplicated) above everything added before. */
int image_view_add(struct image_view *v, const struct view_entry *e);
/* Applies one layer's whiteouts to what the layers under `layer` hold:
 * paths[i] and everything below it go (a ".wh.NAME" whiteout), or with
 * opaque[i] only what is below it (an opaque directory, ".wh..wh..opq";
 * "" is the root). One pass over the view whatever the number of
 * whiteouts, so a hostile layer cannot make this quadratic. */
int image_view_whiteouts(struct image_view *v, const char *const *paths, const int *opaque, size_t n, size_t layer);

/* The entry a reader sees at path, or NULL. */
const struct view_entry *image_view_get(const struct image_view *v, const char *path);
/* True when entries[i] is the one a reader sees at its path. */
int image_view_is_visible(const struct image_view *v, size_t i);

/* Up to len bytes of a regular file's content from its start. */
int image_view_head(const struct view_entry *e, unsigned char *out, size_t len, size_t *got);

/* Resolves an absolute image path to the regular file a reader would open,
 * following symlinks inside the image. *out_path ("/nix/store/.../bin/fd")
 * is the caller's to free. */
int image_view_resolve(char **out_path, const struct view_entry **out, const struct image_view *v,
		       const char *path);

/* Finds a config's program as a runtime would: through the config's PATH
 * when it has no '/', against WorkingDir when relative. */
int image_view_find_program(char **out_path, const struct view_entry **out, const struct image_view *v,
			    json_t *cfg, const char *program);

#endif
