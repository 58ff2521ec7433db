/*
 * A file written under a temporary name beside its destination
 * ("<path>.<pid>.<n>.tmp") and renamed into place only when complete, so a
 * reader never sees a partial file and a failure leaves nothing behind.
 */
#ifndef STW_LIB_ATOMIC_FILE_H
#define STW_LIB_ATOMIC_FILE_H

#include "buf.h"

#include <stddef.h>

struct atomic_file {
	int fd;          /* write here between open and commit */
	struct buf tmp;  /* the temporary name */
	const char *path;
};

int atomic_file_open(struct atomic_file *f, const char *path);
/* Closes and renames into place; on failure the temporary file is gone. */
int atomic_file_commit(struct atomic_file *f);
/* Closes and removes the temporary file; harmless after a commit. */
void atomic_file_abort(struct atomic_file *f);

/* Creates the missing directories above the file at path (0700: they
 * hold private caches). path is modified while it runs and restored. */
int atomic_file_make_parents(char *path);

/* A staging directory (built aside, renamed into place when complete):
 * created, then either kept (renamed: no longer temporary) or removed with
 * all it holds. stw_remove_temporaries removes it too. */
int atomic_dir_create(const char *path);
void atomic_dir_keep(const char *path);
void atomic_dir_remove(const char *path);
/* All of data as the file at path. */
int atomic_file_write(const char *path, const void *data, size_t len);

#endif
