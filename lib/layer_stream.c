#include "layer_stream.h"
#include "error.h"
#include "tar_header.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Header bytes are formatted through the sink API into s->staged. */
struct stage_sink {
	struct sink base;
	struct buf *to;
};

static int stage_write(struct sink *sk, const void *data, size_t len)
{
	return buf_add(((struct stage_sink *)sk)->to, data, len);
}

static int stage_finish(struct sink *sk)
{
	(void)sk;
	return 0;
}

int layer_stream_open(struct layer_stream *s, const struct stw_layer *layer)
{
	memset(s, 0, sizeof(*s));
	tree_init(&s->tree);
	buf_init(&s->staged);
	s->fd = -1;
	s->dir_fd = -1;
	s->tree.defer_file_stat = 1; /* each file is stat'ed once open */
	return tree_collect(&s->tree, layer);
}

void layer_stream_close(struct layer_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	s->fd = s->dir_fd = -1;
	tree_release(&s->tree);
	buf_release(&s->staged);
}

/* The directory a file sits in, kept open so that each file is opened by
 * its name alone: opening every file by its absolute path walked all of
 * its components again, a tenth of a cold build's CPU. Files of one
 * directory are mostly adjacent in tar order. */
static int dir_at(struct layer_stream *s, const struct tree_entry *e)
{
	char *dir;

	if (s->dir_fd >= 0 && s->dir_len == e->dir_len && !memcmp(s->dir_path, e->source, e->dir_len))
		return s->dir_fd;
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	s->dir_fd = -1;
	dir = strndup(e->source, e->dir_len ? e->dir_len : 1);
	if (!dir)
		return stw_error("out of memory");
	s->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (s->dir_fd < 0)
		return stw_error_errno("cannot open '%s'", e->source);
	s->dir_path = e->source;
	s->dir_len = e->dir_len;
	return s->dir_fd;
}

/* O_NONBLOCK: a FIFO put where a file was must fail, not wait for a
 * writer. The size taken here, from the open file, stands: a file that
 * shrank fails when a read ends early, and the bytes hashed are the bytes
 * handed out. */
static int start_file(struct layer_stream *s, struct tree_entry *e)
{
	int at = dir_at(s, e);

	if (at < 0)
		return -1;
	s->fd = openat(at, e->source + e->dir_len + 1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (s->fd < 0)
		return stw_error_errno("cannot open '%s'", e->source);
	if (e->unstated && tree_entry_stat_fd(e, s->fd) < 0) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	if (e->size >= 256 * 1024)
		posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	s->file = e;
	s->pos = 0;
	/* Only a file with fewer blocks than its size can have holes: others
	 * are one data run, without two seeks a file. */
	s->segment_end = e->allocated >= e->size ? e->size : 0;
	s->in_hole = 0;
	return 0;
}

/* The run of data or hole from pos, for a file that may be sparse. */
static void next_segment(struct layer_stream *s)
{
	uint64_t size = s->file->size;
	off_t data = lseek(s->fd, (off_t)s->pos, SEEK_DATA), hole;

	if (data < 0 && errno == ENXIO)
		data = (off_t)size; /* only a hole is left */
	else if (data < 0)
		data = (off_t)s->pos; /* no SEEK_DATA here: read it all */
	if ((uint64_t)data > size)
		data = (off_t)size;
	if ((uint64_t)data > s->pos) {
		s->in_hole = 1;
		s->segment_end = (uint64_t)data;
		return;
	}
	hole = lseek(s->fd, (off_t)s->pos, SEEK_HOLE);
	if (hole < 0 || (uint64_t)hole > size || (uint64_t)hole <= s->pos)
		hole = (off_t)size;
	s->in_hole = 0;
	s->segment_end = (uint64_t)hole;
}

static void end_file(struct layer_stream *s)
{
	s->padding = (TAR_BLOCK - s->file->size % TAR_BLOCK) % TAR_BLOCK;
	close(s->fd);
	s->fd = -1;
	s->file = NULL;
}

/* Up to cap bytes of the current file; 0 once it is all out. Holes are
 * zeros from memory, never read. */
static ssize_t file_bytes(struct layer_stream *s, char *buf, size_t cap)
{
	const struct tree_entry *e = s->file;
	size_t want;
	ssize_t n;

	if (s->pos == e->size)
		return 0;
	if (s->pos == s->segment_end)
		next_segment(s);
	want = s->segment_end - s->pos > cap ? cap : (size_t)(s->segment_end - s->pos);
	if (s->in_hole) {
		memset(buf, 0, want);
		s->pos += want;
		return (ssize_t)want;
	}
	do
		n = pread(s->fd, buf, want, (off_t)s->pos);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return stw_error_errno("cannot read '%s'", e->source);
	if (n == 0)
		return stw_error("'%s' changed while it was being read", e->source);
	s->pos += (uint64_t)n;
	return n;
}

/* Stages the next entry's header (and opens its file), or the end marker. */
static int stage_next(struct layer_stream *s)
{
	struct stage_sink sk = { .base = { .write = stage_write, .finish = stage_finish }, .to = &s->staged };
	struct tree_entry *e;
	struct tar_header h;

	buf_reset(&s->staged);
	s->staged_at = 0;
	if (s->next == s->tree.count) {
		s->ended = 1;
		return tar_write_end(&sk.base);
	}
	e = &s->tree.entries[s->next++];
	/* a file is opened first: its header needs the size and mode */
	if (e->type == TAR_FILE && start_file(s, e) < 0)
		return -1;
	tree_entry_header(e, &h);
	return tar_write_header(&sk.base, &h);
}

ssize_t layer_stream_read(struct layer_stream *s, char *buf, size_t cap)
{
	size_t fill = 0;

	while (fill < cap) {
		size_t room = cap - fill;
		if (s->staged_at < s->staged.len) {
			size_t n = s->staged.len - s->staged_at < room ? s->staged.len - s->staged_at : room;
			memcpy(buf + fill, s->staged.data + s->staged_at, n);
			s->staged_at += n;
			fill += n;
		} else if (s->file) {
			ssize_t n = file_bytes(s, buf + fill, room);
			if (n < 0)
				return -1;
			if (n == 0)
				end_file(s);
			fill += (size_t)n;
		} else if (s->padding) {
			size_t n = s->padding < room ? (size_t)s->padding : room;
			memset(buf + fill, 0, n);
			s->padding -= n;
			fill += n;
		} else if (s->ended) {
			break;
		} else if (stage_next(s) < 0) {
			return -1;
		}
	}
	return (ssize_t)fill;
}
