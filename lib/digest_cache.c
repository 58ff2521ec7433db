#include "digest_cache.h"
#include "atomic_file.h"
#include "buf.h"
#include "digest.h"
#include "error.h"
#include "tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Bump when the tar format or the key changes: old entries then miss. */
#define CACHE_FORMAT "stowage-digest-cache 1 tar 1 gzip 4"

static int is_store_path(const char *path, const char *store_dir)
{
	size_t len = strlen(store_dir);
	return !strncmp(path, store_dir, len) && path[len] == '/' && path[len + 1];
}

static int key_tree_stats(struct buf *text, const struct stw_layer *layer)
{
	struct tree tree;
	int ret = -1;

	tree_init(&tree);
	if (tree_collect(&tree, layer) < 0)
		goto out;
	for (size_t i = 0; i < tree.count; i++) {
		const struct tree_entry *e = &tree.entries[i];
		if (buf_addf(text, "entry %s %c %o %llu %llu %llu %llu %llu %lld %lld %s\n", e->tar_path,
			     (char)e->type, e->mode, (unsigned long long)e->uid, (unsigned long long)e->gid,
			     (unsigned long long)e->size, (unsigned long long)e->dev,
			     (unsigned long long)e->ino, (long long)e->mtime_ns, (long long)e->ctime_ns,
			     e->link ? e->link : "") < 0)
			goto out;
	}
	ret = 0;
out:
	tree_release(&tree);
	return ret;
}

int digest_cache_key(char key[72], const struct stw_layer *layer, const char *store_dir)
{
	struct buf text;
	int all_store = 1, ret = -1;

	buf_init(&text);
	if (buf_addf(&text, "%s\ncompression %s\n", CACHE_FORMAT, stw_compression_name(layer->compression)) < 0)
		goto out;
	for (size_t i = 0; i < layer->path_count; i++) {
		const struct stw_layer_path *p = &layer->paths[i];
		struct stat st;
		if (buf_addf(&text, "path %s\nrewrite %s\nrepl %s\n", p->path,
			     p->rewrite_regex ? p->rewrite_regex : "", p->rewrite_repl ? p->rewrite_repl : "") < 0)
			goto out;
		if (!is_store_path(p->path, store_dir)) {
			all_store = 0;
			continue;
		}
		if (lstat(p->path, &st) < 0) {
			stw_error_errno("cannot read '%s'", p->path);
			goto out;
		}
		if (buf_addf(&text, "top %llu %llu %lld.%09ld\n", (unsigned long long)st.st_dev,
			     (unsigned long long)st.st_ino, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec) < 0)
			goto out;
	}
	for (size_t i = 0; i < layer->perm_count; i++) {
		const struct stw_perm_rule *r = &layer->perms[i];
		if (buf_addf(&text, "perm %s %d %lld %lld\n", r->regex, r->mode, r->uid, r->gid) < 0)
			goto out;
	}
	if (!all_store && key_tree_stats(&text, layer) < 0)
		goto out;
	ret = sha256_digest(key, text.data, text.len);
out:
	buf_release(&text);
	return ret;
}

static int entry_path(struct buf *b, const char *cache_dir, const char *key)
{
	const char *hex = key + 7;
	return buf_addf(b, "%s/layers/%.2s/%s", cache_dir, hex, hex + 2);
}

int digest_cache_get(const char *cache_dir, const char *key, struct layer_digests *out)
{
	struct buf path, content;
	unsigned long long tar_size, size;
	char diff_id[80], digest[80];
	int hit = 0;

	buf_init(&path);
	buf_init(&content);
	if (entry_path(&path, cache_dir, key) < 0 || buf_read_file(&content, path.data, 4096) < 0)
		goto out;
	if (sscanf(content.data, "%79s %79s %llu %llu", diff_id, digest, &tar_size, &size) != 4 ||
	    !digest_is_valid(diff_id) || !digest_is_valid(digest))
		goto out;
	memcpy(out->diff_id, diff_id, STW_DIGEST_LEN + 1);
	memcpy(out->digest, digest, STW_DIGEST_LEN + 1);
	out->tar_size = tar_size;
	out->size = size;
	hit = 1;
out:
	buf_release(&path);
	buf_release(&content);
	return hit;
}

void digest_cache_put(const char *cache_dir, const char *key, const struct layer_digests *d)
{
	struct buf path, content;

	buf_init(&path);
	buf_init(&content);
	if (entry_path(&path, cache_dir, key) == 0 && atomic_file_make_parents(path.data) == 0 &&
	    buf_addf(&content, "%s %s %llu %llu\n", d->diff_id, d->digest, (unsigned long long)d->tar_size,
		     (unsigned long long)d->size) == 0)
		(void)atomic_file_write(path.data, content.data, content.len); /* best effort */
	buf_release(&path);
	buf_release(&content);
}
