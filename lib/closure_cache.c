#include "stowage/closure_cache.h"
#include "atomic_file.h"
#include "buf.h"
#include "digest.h"
#include "error.h"

#include <string.h>
#include <sys/stat.h>

/* Bump when the entry's meaning changes: old entries then miss. */
#define CLOSURE_CACHE_FORMAT "stowage-closure-cache 1"
#define MAX_ENTRY (256u << 20)

/* Only "STORE/NAME" is certain to name the same immutable path tomorrow
 * (not a symlink like ./result, whose target moves). */
static int literal_store_path(const char *path, const char *store_dir)
{
	size_t n = strlen(store_dir);
	return !strncmp(path, store_dir, n) && path[n] == '/' && path[n + 1] && !strchr(path + n + 1, '/');
}

static int entry_path(struct buf *out, const char *cache_dir, const char *store_dir, char *const *paths,
		      size_t count)
{
	struct buf key;
	char digest[STW_DIGEST_LEN + 1];
	int ret = -1;

	buf_init(&key);
	if (buf_addf(&key, "%s\n%s\n", CLOSURE_CACHE_FORMAT, store_dir) < 0)
		goto out;
	for (size_t i = 0; i < count; i++)
		if (!literal_store_path(paths[i], store_dir) || buf_addf(&key, "%s\n", paths[i]) < 0)
			goto out;
	if (sha256_digest(digest, key.data, key.len) < 0 ||
	    buf_addf(out, "%s/closures/%.2s/%s.json", cache_dir, digest + 7, digest + 9) < 0)
		goto out;
	ret = 0;
out:
	buf_release(&key);
	return ret;
}

static int all_exist(const struct stw_graph *g)
{
	struct stat st;
	for (size_t i = 0; i < stw_graph_count(g); i++)
		if (lstat(stw_graph_path(g, i), &st) < 0)
			return 0;
	return 1;
}

int stw_closure_cache_get(struct stw_graph **out, const char *cache_dir, const char *store_dir,
			  char *const *paths, size_t count)
{
	struct buf path, json;
	struct stw_graph *g = NULL;
	int hit = 0;

	*out = NULL;
	buf_init(&path);
	buf_init(&json);
	if (!cache_dir || !count || entry_path(&path, cache_dir, store_dir, paths, count) < 0 ||
	    buf_read_file(&json, path.data, MAX_ENTRY) < 0 ||
	    stw_graph_parse(&g, json.data, json.len, path.data) < 0 || !all_exist(g))
		goto out;
	*out = g;
	g = NULL;
	hit = 1;
out:
	if (!hit)
		stw_error("%s", ""); /* a miss is no error */
	stw_graph_free(g);
	buf_release(&path);
	buf_release(&json);
	return hit;
}

void stw_closure_cache_put(const char *cache_dir, const char *store_dir, char *const *paths, size_t count,
			   const char *json, size_t len)
{
	struct buf path;

	buf_init(&path);
	if (cache_dir && count && entry_path(&path, cache_dir, store_dir, paths, count) == 0 &&
	    atomic_file_make_parents(path.data) == 0)
		(void)atomic_file_write(path.data, json, len); /* best effort */
	stw_error("%s", "");
	buf_release(&path);
}
