#include "atomic_file.h"
#include "error.h"
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int atomic_file_open(struct atomic_file *f, const char *path)
{
	static atomic_ulong serial; /* distinct names across threads */

	f->fd = -1;
	f->path = path;
	buf_init(&f->tmp);
	if (buf_addf(&f->tmp, "%s.%ld.%lu.tmp", path, (long)getpid(), atomic_fetch_add(&serial, 1)) < 0)
		return -1;
	f->fd = open(f->tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (f->fd < 0) {
		stw_error_errno("cannot create '%s'", f->tmp.data);
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
	buf_release(&f->tmp);
	return 0;
fail:
	unlink(f->tmp.data);
	buf_release(&f->tmp);
	return -1;
}

void atomic_file_abort(struct atomic_file *f)
{
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
		unlink(f->tmp.data);
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
