#include "tree.h"
#include "buf.h"
#include "error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Compiled per-layer rules, so each entry costs one regexec per rule. */
struct compiled_rules {
	regex_t *perms;
	size_t perm_count;
};

struct placement {
	regex_t rewrite;
	int has_rewrite;
	const char *repl;
};

void tree_init(struct tree *t)
{
	memset(t, 0, sizeof(*t));
}

static void entry_release(struct tree_entry *e)
{
	free(e->tar_path);
	free(e->source);
	free(e->link);
}

void tree_release(struct tree *t)
{
	for (size_t i = 0; i < t->count; i++)
		entry_release(&t->entries[i]);
	free(t->entries);
	tree_init(t);
}

static struct tree_entry *tree_push(struct tree *t)
{
	if (t->count == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct tree_entry *v = realloc(t->entries, cap * sizeof(*v));
		if (!v) {
			stw_error("out of memory");
			return NULL;
		}
		t->entries = v;
		t->cap = cap;
	}
	memset(&t->entries[t->count], 0, sizeof(t->entries[0]));
	t->entries[t->count].order = t->count;
	return &t->entries[t->count++];
}

int tar_path_normalise(char **out, const char *path)
{
	struct buf b;
	const char *p = path;

	buf_init(&b);
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			buf_release(&b);
			return stw_error("path '%s' escapes the image root", path);
		}
		if (len && !(len == 1 && p[0] == '.')) {
			if ((b.len && buf_addch(&b, '/') < 0) || buf_add(&b, p, len) < 0) {
				buf_release(&b);
				return -1;
			}
		}
		p += len;
		if (*p == '/')
			p++;
	}
	*out = buf_detach(&b, NULL);
	return *out ? 0 : stw_error("out of memory");
}

/* Where a source path lands in the tar. */
static int place(char **out, const struct placement *pl, const char *source)
{
	regmatch_t m;
	struct buf b;
	int ret;

	if (!pl->has_rewrite || regexec(&pl->rewrite, source, 1, &m, 0) != 0)
		return tar_path_normalise(out, source);
	buf_init(&b);
	ret = buf_add(&b, source, (size_t)m.rm_so);
	if (!ret)
		ret = buf_adds(&b, pl->repl ? pl->repl : "");
	if (!ret)
		ret = buf_adds(&b, source + m.rm_eo);
	if (!ret)
		ret = tar_path_normalise(out, b.data);
	buf_release(&b);
	return ret;
}

static int apply_perms(struct tree_entry *e, const struct stw_layer *layer,
		       const struct compiled_rules *rules, struct buf *scratch)
{
	buf_reset(scratch);
	if (buf_addch(scratch, '/') < 0 || buf_adds(scratch, e->tar_path) < 0)
		return -1;
	for (size_t i = 0; i < rules->perm_count; i++) {
		const struct stw_perm_rule *r = &layer->perms[i];
		if (regexec(&rules->perms[i], scratch->data, 0, NULL, 0) != 0)
			continue;
		if (r->mode >= 0 && e->type != TAR_SYMLINK) {
			e->mode = (unsigned)r->mode & 07777;
			e->mode_set = 1;
		}
		if (r->uid >= 0)
			e->uid = (uint64_t)r->uid;
		if (r->gid >= 0)
			e->gid = (uint64_t)r->gid;
	}
	return 0;
}

/* at/name: where the entry is, relative to an open directory (AT_FDCWD
 * and the full source for the root of a tree), so that reading a symlink
 * does not walk the whole path again. */
static void fill_file_stat(struct tree_entry *e, const struct stat *st)
{
	e->size = (uint64_t)st->st_size;
	e->allocated = (uint64_t)st->st_blocks * 512;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	if (!e->mode_set) /* setuid/setgid only when a permission rule asks for them */
		e->mode = st->st_mode & 01777;
	e->unstated = 0;
}

/* A deferred file's stat, once taken (rc, st as stat returned them): it
 * must still be a regular file. */
static int take_file_stat(struct tree_entry *e, int rc, const struct stat *st)
{
	if (rc < 0)
		return stw_error_errno("cannot stat '%s'", e->source);
	if (!S_ISREG(st->st_mode))
		return stw_error("'%s' changed while it was being read", e->source);
	fill_file_stat(e, st);
	return 0;
}

int tree_entry_stat_fd(struct tree_entry *e, int fd)
{
	struct stat st;
	int rc = fstat(fd, &st);
	return take_file_stat(e, rc, &st);
}

static int fill_from_stat(struct tree_entry *e, int at, const char *name, const struct stat *st)
{
	/* setuid/setgid only when a permission rule asks for them */
	e->mode = st->st_mode & 01777;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	if (S_ISREG(st->st_mode)) {
		e->type = TAR_FILE;
		fill_file_stat(e, st);
	} else if (S_ISDIR(st->st_mode)) {
		e->type = TAR_DIR;
	} else if (S_ISLNK(st->st_mode)) {
		struct buf target;
		ssize_t n;
		e->type = TAR_SYMLINK;
		e->mode = 0777;
		buf_init(&target);
		if (buf_grow(&target, (size_t)st->st_size + 1) < 0)
			return -1;
		n = readlinkat(at, name, target.data, target.cap);
		if (n < 0 || (size_t)n >= target.cap) {
			buf_release(&target);
			return stw_error_errno("cannot read symlink '%s'", e->source);
		}
		target.len = (size_t)n;
		target.data[n] = 0;
		e->link = buf_detach(&target, NULL);
	} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		e->type = S_ISCHR(st->st_mode) ? TAR_CHAR : TAR_BLOCK_DEV;
		e->devmajor = major(st->st_rdev);
		e->devminor = minor(st->st_rdev);
	} else if (S_ISFIFO(st->st_mode)) {
		e->type = TAR_FIFO;
	} else {
		return stw_error("cannot put '%s' in a layer: sockets cannot be stored in a tar", e->source);
	}
	return 0;
}

struct walk {
	struct tree *tree;
	const struct stw_layer *layer;
	const struct compiled_rules *rules;
	const struct placement *placement;
	struct buf scratch;
};

static int walk_dir(struct walk *w, struct buf *path, int at, const char *name);

/* The entry at path, found as name in the open directory at; st is NULL
 * for a regular file whose stat is left to whoever opens it. */
static int add_entry(struct walk *w, struct buf *path, int at, const char *name, const struct stat *st)
{
	struct tree_entry *e;
	char *tar_path = NULL;

	if (place(&tar_path, w->placement, path->data) < 0)
		return stw_error_wrap("cannot place '%s'", path->data);
	if (!*tar_path) { /* the root of a copy-to-root tree: "/" itself */
		free(tar_path);
		return st && S_ISDIR(st->st_mode) ? walk_dir(w, path, at, name)
						  : stw_error("'%s' must be a directory", path->data);
	}
	e = tree_push(w->tree);
	if (!e) {
		free(tar_path);
		return -1;
	}
	e->tar_path = tar_path;
	e->source = strdup(path->data);
	if (!e->source)
		return stw_error("out of memory");
	e->dir_len = (size_t)(strrchr(e->source, '/') - e->source);
	if (!st) {
		e->type = TAR_FILE;
		e->unstated = 1;
	} else if (fill_from_stat(e, at, name, st) < 0) {
		return -1;
	}
	if (apply_perms(e, w->layer, w->rules, &w->scratch) < 0)
		return -1;
	return st && S_ISDIR(st->st_mode) ? walk_dir(w, path, at, name) : 0;
}

static DIR *open_dir_at(int at, const char *name)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);

	if (fd >= 0 && !dir)
		close(fd);
	return dir;
}

static int walk_dir(struct walk *w, struct buf *path, int at, const char *name)
{
	DIR *dir = open_dir_at(at, name);
	size_t base = path->len;
	struct dirent *d;
	int ret = 0;

	if (!dir)
		return stw_error_errno("cannot read directory '%s'", path->data);
	while (!ret) {
		struct stat st;
		errno = 0;
		d = readdir(dir);
		if (!d) {
			if (errno)
				ret = stw_error_errno("cannot read directory '%s'", path->data);
			break;
		}
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		path->len = base;
		path->data[base] = 0;
		if (buf_addch(path, '/') < 0 || buf_adds(path, d->d_name) < 0) {
			ret = -1;
			break;
		}
		if (w->tree->defer_file_stat && d->d_type == DT_REG)
			ret = add_entry(w, path, dirfd(dir), d->d_name, NULL);
		/* relative to the open directory: no walk of the whole path */
		else if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			ret = stw_error_errno("cannot stat '%s'", path->data);
		else
			ret = add_entry(w, path, dirfd(dir), d->d_name, &st);
	}
	closedir(dir);
	path->len = base;
	path->data[base] = 0;
	return ret;
}

/* Adds "nix", "nix/store" (or whatever lies above a tree) as 0755 dirs. */
static int add_parents(struct tree *t, const char *tar_path)
{
	const char *slash = tar_path;

	while ((slash = strchr(slash, '/'))) {
		struct tree_entry *e = tree_push(t);
		if (!e)
			return -1;
		e->tar_path = strndup(tar_path, (size_t)(slash - tar_path));
		if (!e->tar_path)
			return stw_error("out of memory");
		e->type = TAR_DIR;
		e->mode = 0755;
		slash++;
	}
	return 0;
}

static int walk_root(struct tree *t, const struct stw_layer *layer, const struct compiled_rules *rules,
		     const struct stw_layer_path *lp)
{
	struct walk w = { .tree = t, .layer = layer, .rules = rules };
	struct placement pl = { .repl = lp->rewrite_repl };
	struct buf path;
	struct stat st;
	char *root_tar = NULL;
	int ret = -1;

	buf_init(&path);
	buf_init(&w.scratch);
	if (lp->rewrite_regex) {
		if (regcomp(&pl.rewrite, lp->rewrite_regex, REG_EXTENDED) != 0) {
			buf_release(&path);
			return stw_error("invalid rewrite regex '%s'", lp->rewrite_regex);
		}
		pl.has_rewrite = 1;
	}
	w.placement = &pl;
	if (lp->path[0] != '/') {
		stw_error("layer path '%s' is not absolute", lp->path);
		goto out;
	}
	if (lstat(lp->path, &st) < 0) {
		stw_error_errno("cannot read '%s'", lp->path);
		goto out;
	}
	if (buf_adds(&path, lp->path) < 0 || place(&root_tar, &pl, lp->path) < 0)
		goto out;
	if (*root_tar && add_parents(t, root_tar) < 0)
		goto out;
	ret = add_entry(&w, &path, AT_FDCWD, lp->path, &st);
out:
	free(root_tar);
	if (pl.has_rewrite)
		regfree(&pl.rewrite);
	buf_release(&w.scratch);
	buf_release(&path);
	return ret;
}

static int compare_entries(const void *a, const void *b)
{
	const struct tree_entry *x = a, *y = b;
	int c = strcmp(x->tar_path, y->tar_path);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* A deferred file's stat, where two trees meet at one path. */
static int stat_if_deferred(struct tree_entry *e)
{
	struct stat st;
	int rc;

	if (!e->unstated)
		return 0;
	rc = lstat(e->source, &st);
	return take_file_stat(e, rc, &st);
}

/* Two entries with one tar path: the same directory from two trees (or a
 * synthesised parent) is one entry; anything else is a conflict. */
static int merge_duplicate(struct tree_entry *kept, struct tree_entry *dup)
{
	if (!kept->source || !dup->source) {
		/* a synthesised parent: the real directory wins; anything else
		 * would leave the paths below it under a file or a symlink */
		const struct tree_entry *real = kept->source ? kept : dup;
		if (real->source && real->type != TAR_DIR)
			return stw_error("conflicting entries for '/%s': '%s' and a directory above another tree",
					 real->tar_path, real->source);
		if (!kept->source) {
			struct tree_entry tmp = *kept;
			*kept = *dup;
			*dup = tmp;
		}
		return 0;
	}
	if (kept->type == TAR_DIR && dup->type == TAR_DIR)
		return 0;
	if (stat_if_deferred(kept) < 0 || stat_if_deferred(dup) < 0)
		return -1;
	if (kept->dev == dup->dev && kept->ino == dup->ino)
		return 0;
	if (kept->type == TAR_SYMLINK && dup->type == TAR_SYMLINK && !strcmp(kept->link, dup->link))
		return 0;
	return stw_error("conflicting entries for '/%s': '%s' and '%s'", kept->tar_path, kept->source,
			 dup->source);
}

static int sort_and_merge(struct tree *t)
{
	size_t out = 0;

	qsort(t->entries, t->count, sizeof(t->entries[0]), compare_entries);
	for (size_t i = 0; i < t->count; i++) {
		if (out && !strcmp(t->entries[out - 1].tar_path, t->entries[i].tar_path)) {
			if (merge_duplicate(&t->entries[out - 1], &t->entries[i]) < 0) {
				/* keep the tree consistent for tree_release */
				for (size_t j = i; j < t->count; j++)
					t->entries[out++] = t->entries[j];
				t->count = out;
				return -1;
			}
			entry_release(&t->entries[i]);
			continue;
		}
		t->entries[out++] = t->entries[i];
	}
	t->count = out;
	return 0;
}

static void free_rules(struct compiled_rules *r)
{
	for (size_t i = 0; i < r->perm_count; i++)
		regfree(&r->perms[i]);
	free(r->perms);
}

int tree_collect(struct tree *t, const struct stw_layer *layer)
{
	struct compiled_rules rules = { 0 };
	int ret = -1;

	rules.perms = calloc(layer->perm_count ? layer->perm_count : 1, sizeof(regex_t));
	if (!rules.perms)
		return stw_error("out of memory");
	for (; rules.perm_count < layer->perm_count; rules.perm_count++) {
		const char *re = layer->perms[rules.perm_count].regex;
		if (regcomp(&rules.perms[rules.perm_count], re, REG_EXTENDED | REG_NOSUB) != 0) {
			stw_error("invalid permission regex '%s'", re);
			goto out;
		}
	}
	for (size_t i = 0; i < layer->path_count; i++)
		if (walk_root(t, layer, &rules, &layer->paths[i]) < 0)
			goto out;
	ret = sort_and_merge(t);
out:
	free_rules(&rules);
	return ret;
}

void tree_entry_header(const struct tree_entry *e, struct tar_header *h)
{
	memset(h, 0, sizeof(*h));
	h->name = e->tar_path;
	h->linkname = e->link;
	h->type = e->type;
	h->mode = e->mode;
	h->uid = e->uid;
	h->gid = e->gid;
	h->size = e->type == TAR_FILE ? e->size : 0;
	h->mtime = STW_TAR_MTIME;
	h->devmajor = e->devmajor;
	h->devminor = e->devminor;
}
