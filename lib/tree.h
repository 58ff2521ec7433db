/*
 * Collecting the entries of one layer: every tree of the layer walked
 * (never following symlinks), placed at its tar path (rewrites applied),
 * permission rules applied, missing parent directories added as 0755 root
 * directories, sorted bytewise by tar path and merged where two trees hold
 * the same directory. Only metadata is read here, never file contents.
 * A struct tree owns its entries and their strings.
 */
#ifndef STW_LIB_TREE_H
#define STW_LIB_TREE_H

#include "tar_header.h"
#include "stowage/image.h"

#include <stddef.h>
#include <sys/types.h>

struct tree_entry {
	char *tar_path; /* "nix/store/...-foo/bin/x": no leading or trailing '/' */
	char *source;   /* absolute source path; NULL for synthesised parents */
	size_t dir_len; /* source[dir_len] is the '/' before the entry's name */
	char *link;     /* symlink target */
	enum tar_type type;
	unsigned mode;
	int mode_set;   /* a permission rule set mode: the file's own is not used */
	int unstated;   /* a regular file not stat'ed yet (tree.defer_file_stat) */
	uint64_t uid, gid;
	uint64_t size;
	uint64_t allocated; /* bytes of disk a regular file takes: fewer than size means holes */
	unsigned devmajor, devminor;
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns, ctime_ns; /* for the digest cache's key only */
	size_t order; /* insertion order: keeps sorting stable */
};

struct tree {
	struct tree_entry *entries;
	size_t count, cap;
	/* Set before tree_collect by a reader that opens every file anyway
	 * (layer_stream): regular files a directory listing names are not
	 * stat'ed by name; tree_entry_stat_fd fills them from the open file,
	 * which saves a path lookup a file. Their size, mode, dev/ino and
	 * times are unknown until then. */
	int defer_file_stat;
};

void tree_init(struct tree *t);
void tree_release(struct tree *t);

/* Collects and sorts the entries of every path of layer. */
int tree_collect(struct tree *t, const struct stw_layer *layer);

/* Fills an unstated regular file's stat from fd, its open file; fails if
 * it is no longer a regular file. */
int tree_entry_stat_fd(struct tree_entry *e, int fd);

/* The tar header for an entry. */
void tree_entry_header(const struct tree_entry *e, struct tar_header *h);

/* Normalises a placed path: strips leading '/', drops "." and empty
 * components, rejects "..". The result is written to out (caller frees). */
int tar_path_normalise(char **out, const char *path);

#endif
