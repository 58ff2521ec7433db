#include "atomic_file.h"
#include "error.h"
#include "sink.h"
#include "stowage/copy.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Every temporary file and staging directory in use, so that a process
 * interrupted by a signal can remove them (stw_remove_temporaries) and
 * leave nothing half-written behind. After that, no new one is created.
 */
struct temporary {
	char *path;
	int is_dir;
};
static pthread_mutex_t temporaries_lock = PTHREAD_MUTEX_INITIALIZER;
static struct temporary *temporaries;
static size_t temporary_count, temporary_cap;
static int temporaries_closed;

/* Called with the lock held. */
static int temporary_add(const char *path, int is_dir)
{
	if (temporaries_closed)
		return stw_error("interrupted");
	if (temporary_count == temporary_cap) {
		size_t cap = temporary_cap ? temporary_cap * 2 : 16;
		struct temporary *t = realloc(temporaries, cap * sizeof(*t));
		if (!t)
			return stw_error("out of memory");
		temporaries = t;
		temporary_cap = cap;
	}
	if (!(temporaries[temporary_count].path = strdup(path)))
		return stw_error("out of memory");
	temporaries[temporary_count++].is_dir = is_dir;
	return 0;
}

static void temporary_forget(const char *path)
{
	pthread_mutex_lock(&temporaries_lock);
	for (size_t i = 0; i < temporary_count; i++) {
		if (!strcmp(temporaries[i].path, path)) {
			free(temporaries[i].path);
			temporaries[i] = temporaries[--temporary_count];
			break;
		}
	}
	if (!temporary_count) {
		free(temporaries);
		temporaries = NULL;
		temporary_cap = 0;
	}
	pthread_mutex_unlock(&temporaries_lock);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

int atomic_dir_create(const char *path)
{
	int ret = 0;

	pthread_mutex_lock(&temporaries_lock);
	if (mkdir(path, 0755) < 0)
		ret = stw_error_errno("cannot create '%s'", path);
	else if (temporary_add(path, 1) < 0)
		ret = (rmdir(path), -1);
	pthread_mutex_unlock(&temporaries_lock);
	return ret;
}

void atomic_dir_remove(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	temporary_forget(path);
}

void atomic_dir_keep(const char *path)
{
	temporary_forget(path);
}

void stw_remove_temporaries(void)
{
	pthread_mutex_lock(&temporaries_lock);
	temporaries_closed = 1;
	for (size_t i = 0; i < temporary_count; i++) {
		if (temporaries[i].is_dir)
			nftw(temporaries[i].path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		else
			unlink(temporaries[i].path);
	}
	/* the lock stays held: a writer still running creates nothing more */
}

int atomic_file_open(struct atomic_file *f, const char *path)
{
	static atomic_ulong serial; /* distinct names across threads */

	f->fd = -1;
	f->path = path;
	buf_init(&f->tmp);
	if (buf_addf(&f->tmp, "%s.%ld.%lu.tmp", path, (long)getpid(), atomic_fetch_add(&serial, 1)) < 0)
		return -1;
	pthread_mutex_lock(&temporaries_lock);
	if (temporary_add(f->tmp.data, 0) == 0) {
		f->fd = open(f->tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (f->fd < 0) {
			stw_error_errno("cannot create '%s'", f->tmp.data);
			free(temporaries[--temporary_count].path); /* the one just added */
		}
	}
	pthread_mutex_unlock(&temporaries_lock);
	if (f->fd < 0) {
		buf_release(&f->tmp);
		return -1;
	}
	return 0;
}

int atomic_file_commit(struct atomic_file *f)
{
	int fd = f->fd;

	f->fd = -1;
	if (close(fd) < 0) {
		stw_error_errno("cannot write '%s'", f->path);
		goto fail;
	}
	if (rename(f->tmp.data, f->path) < 0) {
		stw_error_errno("cannot rename '%s' to '%s'", f->tmp.data, f->path);
		goto fail;
	}
	temporary_forget(f->tmp.data);
	buf_release(&f->tmp);
	return 0;
fail:
	unlink(f->tmp.data);
	temporary_forget(f->tmp.data);
	buf_release(&f->tmp);
	return -1;
}

void atomic_file_abort(struct atomic_file *f)
{
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
		unlink(f->tmp.data);
		temporary_forget(f->tmp.data);
	}
	buf_release(&f->tmp);
}

int atomic_file_make_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		int rc;
		if (*p != '/')
			continue;
		*p = 0;
		rc = mkdir(path, 0700);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return stw_error_errno("cannot create the directories of '%s'", path);
	}
	return 0;
}

int atomic_file_write(const char *path, const void *data, size_t len)
{
	struct atomic_file f;

	if (atomic_file_open(&f, path) < 0)
		return -1;
	if (write_all(f.fd, data, len) < 0) {
		stw_error_errno("cannot write '%s'", f.tmp.data);
		atomic_file_abort(&f);
		return -1;
	}
	return atomic_file_commit(&f);
}
