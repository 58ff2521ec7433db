#include "stowage/closure_cache.h"
#include "atomic_file.h"
#include "buf.h"
#include "digest.h"
#include "error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Bump when the entry's meaning changes: old entries then miss.
 * Format 2 keeps the graph itself, one line a path: "PATH\tNARSIZE\tI J
 * ...", I, J the lines (from 0) of its references. Format 1 kept Nix's
 * JSON, whose parsing (168 KB for 307 paths: hashes, signatures,
 * references spelt out) was a third of a warm rebuild. */
#define CLOSURE_CACHE_FORMAT "stowage-closure-cache 2"
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
	    buf_addf(out, "%s/closures/%.2s/%s", cache_dir, digest + 7, digest + 9) < 0)
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

/* A line's fields; the text is cut in place. NULL at a malformed line. */
static char *cut_field(char **cursor, char end)
{
	char *start = *cursor, *stop = strchr(start, end);
	if (!stop)
		return NULL;
	*stop = 0;
	*cursor = stop + 1;
	return start;
}

static int parse_number(const char *text, uint64_t *value)
{
	char *end;
	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	*value = strtoull(text, &end, 10);
	return errno || *end ? -1 : 0;
}

/* Adds every path first (references may point forward), then the
 * references. Anything malformed is a miss, never trusted. */
static int parse_entry(struct stw_graph **out, char *text)
{
	char *cursor = text, *lines;
	struct stw_graph *g = NULL;
	uint64_t count = 0, size, ref;
	int ret = -1;

	if (strncmp(cursor, CLOSURE_CACHE_FORMAT "\n", sizeof(CLOSURE_CACHE_FORMAT)) != 0)
		return -1;
	cursor += sizeof(CLOSURE_CACHE_FORMAT);
	if (stw_graph_new(&g) < 0)
		return -1;
	lines = cursor;
	for (char *line; *cursor; count++) {
		char *path = cut_field(&cursor, '\t'), *nar = path ? cut_field(&cursor, '\t') : NULL;
		if (!nar || !(line = cut_field(&cursor, '\n')) || parse_number(nar, &size) < 0 ||
		    stw_graph_add(g, path, size, NULL) < 0 || stw_graph_count(g) != count + 1)
			goto out;
	}
	cursor = lines;
	for (size_t i = 0; i < count; i++) {
		char *refs;
		cursor += strlen(cursor) + 1; /* the path */
		cursor += strlen(cursor) + 1; /* its size */
		refs = cursor;
		cursor += strlen(cursor) + 1;
		for (char *word = strtok_r(refs, " ", &refs); word; word = strtok_r(NULL, " ", &refs))
			if (parse_number(word, &ref) < 0 || ref >= count ||
			    stw_graph_add_reference(g, i, (size_t)ref) < 0)
				goto out;
	}
	*out = g;
	g = NULL;
	ret = 0;
out:
	stw_graph_free(g);
	return ret;
}

int stw_closure_cache_get(struct stw_graph **out, const char *cache_dir, const char *store_dir,
			  char *const *paths, size_t count)
{
	struct buf path, text;
	struct stw_graph *g = NULL;
	int hit = 0;

	*out = NULL;
	buf_init(&path);
	buf_init(&text);
	if (!cache_dir || !count || entry_path(&path, cache_dir, store_dir, paths, count) < 0 ||
	    buf_read_file(&text, path.data, MAX_ENTRY) < 0 || parse_entry(&g, text.data) < 0 || !all_exist(g))
		goto out;
	*out = g;
	g = NULL;
	hit = 1;
out:
	if (!hit)
		stw_error("%s", ""); /* a miss is no error */
	stw_graph_free(g);
	buf_release(&path);
	buf_release(&text);
	return hit;
}

static int format_entry(struct buf *b, const struct stw_graph *g)
{
	if (buf_adds(b, CLOSURE_CACHE_FORMAT "\n") < 0)
		return -1;
	for (size_t i = 0; i < stw_graph_count(g); i++) {
		if (buf_addf(b, "%s\t%llu\t", stw_graph_path(g, i), (unsigned long long)stw_graph_nar_size(g, i)) < 0)
			return -1;
		for (size_t k = 0; k < stw_graph_reference_count(g, i); k++)
			if (buf_addf(b, k ? " %zu" : "%zu", stw_graph_reference(g, i, k)) < 0)
				return -1;
		if (buf_addch(b, '\n') < 0)
			return -1;
	}
	return 0;
}

void stw_closure_cache_put(const char *cache_dir, const char *store_dir, char *const *paths, size_t count,
			   const struct stw_graph *closure)
{
	struct buf path, text;

	buf_init(&path);
	buf_init(&text);
	if (cache_dir && count && entry_path(&path, cache_dir, store_dir, paths, count) == 0 &&
	    format_entry(&text, closure) == 0 && atomic_file_make_parents(path.data) == 0)
		(void)atomic_file_write(path.data, text.data, text.len); /* best effort */
	stw_error("%s", "");
	buf_release(&path);
	buf_release(&text);
}
