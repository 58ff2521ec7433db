/* An image's file system as a reader sees it; see image_view.h. */
#include "image_view.h"

#include "buf.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* As Linux's MAXSYMLINKS. */
#define SYMLINK_HOPS 40
/* The PATH a runtime uses when the config sets none. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void image_view_init(struct image_view *v)
{
	memset(v, 0, sizeof(*v));
	strmap_init(&v->visible);
}

void image_view_release(struct image_view *v)
{
	strmap_release(&v->visible);
	for (size_t i = 0; i < v->count; i++) {
		free(v->entries[i].path);
		free(v->entries[i].link);
		free(v->entries[i].source);
	}
	free(v->entries);
	image_view_init(v);
}

static char *copy_or_null(const char *s, int *failed)
{
	char *c = s ? strdup(s) : NULL;
	if (s && !c)
		*failed = 1;
	return c;
}

int image_view_add(struct image_view *v, const struct view_entry *e)
{
	struct view_entry *slot;
	int failed = 0;

	if (v->count == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 1024;
		struct view_entry *grown = realloc(v->entries, cap * sizeof(*grown));
		if (!grown)
			return stw_error("out of memory");
		v->entries = grown;
		v->cap = cap;
	}
	slot = &v->entries[v->count];
	*slot = *e;
	slot->hidden = 0;
	slot->path = copy_or_null(e->path, &failed);
	slot->link = copy_or_null(e->link, &failed);
	slot->source = copy_or_null(e->source, &failed);
	if (failed || !slot->path) {
		free(slot->path);
		free(slot->link);
		free(slot->source);
		return stw_error("out of memory");
	}
	v->count++;
	/* a higher layer's entry replaces a lower one's */
	if (strmap_put(&v->visible, slot->path, v->count - 1) < 0)
		return -1;
	return 0;
}

/* True when a proper ancestor of path ("a", "a/b" for "a/b/c") is in
 * either map; scratch is overwritten. */
static int ancestor_in(const struct strmap *gone, const struct strmap *opaque, const char *path, struct buf *scratch)
{
	size_t unused;

	buf_reset(scratch);
	if (buf_adds(scratch, path) < 0)
		return -1;
	for (char *slash = strchr(scratch->data, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		if (strmap_get(gone, scratch->data, &unused) || strmap_get(opaque, scratch->data, &unused))
			return 1;
		*slash = '/';
	}
	return 0;
}

int image_view_whiteouts(struct image_view *v, const char *const *paths, const int *opaque, size_t n, size_t layer)
{
	struct strmap gone, opaque_dirs;
	struct buf scratch;
	size_t unused;
	int ret = -1, all;

	strmap_init(&gone);
	strmap_init(&opaque_dirs);
	buf_init(&scratch);
	for (size_t i = 0; i < n; i++)
		if (strmap_put(opaque[i] ? &opaque_dirs : &gone, paths[i], i) < 0)
			goto out;
	all = strmap_get(&opaque_dirs, "", &unused);
	for (size_t i = 0; n && i < v->count; i++) {
		struct view_entry *e = &v->entries[i];
		int below;

		if (e->layer >= layer || e->hidden)
			continue;
		if (all || strmap_get(&gone, e->path, &unused)) {
			e->hidden = 1;
			continue;
		}
		if ((below = ancestor_in(&gone, &opaque_dirs, e->path, &scratch)) < 0)
			goto out;
		e->hidden = below;
	}
	ret = 0;
out:
	buf_release(&scratch);
	strmap_release(&opaque_dirs);
	strmap_release(&gone);
	return ret;
}

const struct view_entry *image_view_get(const struct image_view *v, const char *path)
{
	size_t i;

	if (!strmap_get(&v->visible, path, &i) || v->entries[i].hidden)
		return NULL;
	return &v->entries[i];
}

int image_view_is_visible(const struct image_view *v, size_t i)
{
	return image_view_get(v, v->entries[i].path) == &v->entries[i];
}

/* Reads up to len bytes from the start of path into data. */
static int read_file_head(unsigned char *data, size_t len, size_t *got, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	size_t have = 0;

	if (fd < 0)
		return stw_error_errno("cannot open '%s'", path);
	while (have < len) {
		ssize_t n = read(fd, data + have, len - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			stw_error_errno("cannot read '%s'", path);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	*got = have;
	return 0;
}

int image_view_head(const struct view_entry *e, unsigned char *out, size_t len, size_t *got)
{
	if (e->source)
		return read_file_head(out, len, got, e->source);
	*got = len < e->head_len ? len : e->head_len;
	memcpy(out, e->head, *got);
	return 0;
}

static void buf_truncate(struct buf *b, size_t len)
{
	b->len = len;
	b->data[len] = 0;
}

int image_view_resolve(char **out_path, const struct view_entry **out_entry, const struct image_view *f,
		       const char *path)
{
	struct buf done, rest, next;
	const struct view_entry *e = NULL;
	size_t pos = 0;
	int hops = 0, ret = -1;

	buf_init(&done);
	buf_init(&rest);
	buf_init(&next);
	if (buf_adds(&rest, path) < 0)
		goto out;
	for (;;) {
		const char *p = rest.data + pos, *slash, *more;
		size_t n, parent_len = done.len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		pos = (size_t)(p - rest.data) + n;
		if (n == 1 && p[0] == '.')
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *cut = strrchr(done.data, '/');
			buf_truncate(&done, cut ? (size_t)(cut - done.data) : 0);
			e = done.len ? image_view_get(f, done.data) : NULL;
			continue;
		}
		if ((done.len && buf_addch(&done, '/') < 0) || buf_add(&done, p, n) < 0)
			goto out;
		if (!(e = image_view_get(f, done.data))) {
			stw_error("'/%s' is not in the image", done.data);
			goto out;
		}
		if (e->type == TAR_SYMLINK) {
			if (++hops > SYMLINK_HOPS) {
				stw_error("too many levels of symbolic links at '/%s'", done.data);
				goto out;
			}
			/* the rest of the path, now under the link's target */
			buf_reset(&next);
			if (buf_adds(&next, e->link) < 0 || buf_addch(&next, '/') < 0 ||
			    buf_adds(&next, rest.data + pos) < 0)
				goto out;
			buf_truncate(&done, e->link[0] == '/' ? 0 : parent_len);
			{
				struct buf swap = rest;
				rest = next;
				next = swap;
			}
			pos = 0;
			continue;
		}
		for (more = rest.data + pos; *more == '/'; more++)
			;
		if (*more && e->type != TAR_DIR) {
			stw_error("'/%s' is not a directory", done.data);
			goto out;
		}
	}
	if (!e || e->type != TAR_FILE) {
		stw_error("'/%s' is not a regular file", done.data);
		goto out;
	}
	buf_reset(&next);
	if (buf_addch(&next, '/') < 0 || buf_adds(&next, done.data) < 0)
		goto out;
	*out_path = buf_detach(&next, NULL);
	*out_entry = e;
	ret = 0;
out:
	buf_release(&next);
	buf_release(&rest);
	buf_release(&done);
	return ret;
}

/* The PATH a runtime searches for a program without a '/'. */
static const char *configured_path(json_t *cfg)
{
	json_t *env = json_object_get(json_object_get(cfg, "config"), "Env"), *v;
	size_t i;

	json_array_foreach(env, i, v) {
		const char *s = json_string_value(v);
		if (s && !strncmp(s, "PATH=", 5))
			return s + 5;
	}
	return DEFAULT_PATH;
}

int image_view_find_program(char **out_path, const struct view_entry **out_entry, const struct image_view *f,
			    json_t *cfg, const char *program)
{
	struct buf candidate;
	int ret = -1;

	buf_init(&candidate);
	if (program[0] == '/') {
		ret = image_view_resolve(out_path, out_entry, f, program);
	} else if (strchr(program, '/')) {
		const char *dir = json_string_value(json_object_get(json_object_get(cfg, "config"), "WorkingDir"));
		if (buf_addf(&candidate, "%s/%s", dir && *dir ? dir : "/", program) == 0)
			ret = image_view_resolve(out_path, out_entry, f, candidate.data);
	} else {
		const char *path = configured_path(cfg);
		for (const char *dir = path; ret < 0 && *dir;) {
			size_t n = strcspn(dir, ":");
			buf_reset(&candidate);
			if (n && dir[0] == '/') {
				if (buf_add(&candidate, dir, n) < 0 || buf_addf(&candidate, "/%s", program) < 0)
					break;
				ret = image_view_resolve(out_path, out_entry, f, candidate.data);
			}
			dir += n + (dir[n] == ':');
		}
		if (ret < 0)
			stw_error("not found in the image's PATH '%s'", path);
	}
	if (ret < 0)
		stw_error_wrap("entrypoint '%s'", program);
	buf_release(&candidate);
	return ret;
}

