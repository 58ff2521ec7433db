#include "stowage/graph.h"
#include "buf.h"
#include "graph_order.h"
#include "error.h"
#include "strmap.h"
#include "utf8.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct graph_node {
	char *path;
	uint64_t nar_size;
	size_t *refs;
	size_t ref_count, ref_cap;
};

struct stw_graph {
	struct graph_node *nodes;
	size_t count, cap;
	struct strmap index;
};

int stw_graph_new(struct stw_graph **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return stw_error("out of memory");
	strmap_init(&(*out)->index);
	return 0;
}

void stw_graph_free(struct stw_graph *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->count; i++) {
		free(g->nodes[i].path);
		free(g->nodes[i].refs);
	}
	free(g->nodes);
	strmap_release(&g->index);
	free(g);
}

size_t stw_graph_count(const struct stw_graph *g) { return g->count; }
const char *stw_graph_path(const struct stw_graph *g, size_t i) { return g->nodes[i].path; }
uint64_t stw_graph_nar_size(const struct stw_graph *g, size_t i) { return g->nodes[i].nar_size; }
void stw_graph_set_nar_size(struct stw_graph *g, size_t i, uint64_t s) { g->nodes[i].nar_size = s; }
size_t stw_graph_reference_count(const struct stw_graph *g, size_t i) { return g->nodes[i].ref_count; }
size_t stw_graph_reference(const struct stw_graph *g, size_t i, size_t k) { return g->nodes[i].refs[k]; }

int stw_graph_find(const struct stw_graph *g, const char *path, size_t *index)
{
	return strmap_get(&g->index, path, index);
}

static int check_path(const char *path)
{
	const char *p = path;
	if (path[0] != '/')
		return stw_error("path '%s' is not absolute", path);
	if (!utf8_valid(path, strlen(path)))
		return stw_error("path '%s' is not valid UTF-8", path);
	while ((p = strstr(p, "/..")))
		if (p[3] == '/' || p[3] == 0)
			return stw_error("path '%s' contains '..'", path);
		else
			p += 3;
	return 0;
}

int stw_graph_add(struct stw_graph *g, const char *path, uint64_t nar_size, size_t *index)
{
	struct graph_node *n;
	size_t found;

	if (stw_graph_find(g, path, &found)) {
		if (nar_size && !g->nodes[found].nar_size)
			g->nodes[found].nar_size = nar_size;
		if (index)
			*index = found;
		return 0;
	}
	if (check_path(path) < 0)
		return -1;
	if (g->count == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		struct graph_node *v = realloc(g->nodes, cap * sizeof(*v));
		if (!v)
			return stw_error("out of memory");
		g->nodes = v;
		g->cap = cap;
		/* the map borrows keys owned by nodes, which did not move */
	}
	n = &g->nodes[g->count];
	memset(n, 0, sizeof(*n));
	n->path = strdup(path);
	if (!n->path)
		return stw_error("out of memory");
	n->nar_size = nar_size;
	if (strmap_put(&g->index, n->path, g->count) < 0) {
		free(n->path);
		return -1;
	}
	if (index)
		*index = g->count;
	g->count++;
	return 0;
}

int stw_graph_add_reference(struct stw_graph *g, size_t from, size_t to)
{
	struct graph_node *n = &g->nodes[from];

	if (from == to)
		return 0; /* self-references carry no layering information */
	for (size_t k = 0; k < n->ref_count; k++)
		if (n->refs[k] == to)
			return 0;
	if (n->ref_count == n->ref_cap) {
		size_t cap = n->ref_cap ? n->ref_cap * 2 : 8;
		size_t *v = realloc(n->refs, cap * sizeof(*v));
		if (!v)
			return stw_error("out of memory");
		n->refs = v;
		n->ref_cap = cap;
	}
	n->refs[n->ref_count++] = to;
	return 0;
}

int stw_graph_merge(struct stw_graph *into, const struct stw_graph *from)
{
	for (size_t i = 0; i < from->count; i++)
		if (stw_graph_add(into, from->nodes[i].path, from->nodes[i].nar_size, NULL) < 0)
			return -1;
	for (size_t i = 0; i < from->count; i++) {
		size_t a, b;
		stw_graph_find(into, from->nodes[i].path, &a);
		for (size_t k = 0; k < from->nodes[i].ref_count; k++) {
			stw_graph_find(into, from->nodes[from->nodes[i].refs[k]].path, &b);
			if (stw_graph_add_reference(into, a, b) < 0)
				return -1;
		}
	}
	return 0;
}

/* Iterative DFS with three colours, so deep graphs cannot overflow the
 * stack; nodes are emitted when their references are done. */
int graph_post_order(const struct stw_graph *g, size_t *order)
{
	unsigned char *colour = calloc(g->count ? g->count : 1, 1);
	size_t *stack = malloc((g->count ? g->count : 1) * sizeof(size_t));
	size_t *next = calloc(g->count ? g->count : 1, sizeof(size_t));
	size_t emitted = 0;
	int ret = -1;

	if (!colour || !stack || !next) {
		stw_error("out of memory");
		goto out;
	}
	for (size_t root = 0; root < g->count; root++) {
		size_t depth = 0;
		if (colour[root])
			continue;
		stack[depth++] = root;
		colour[root] = 1;
		while (depth) {
			size_t n = stack[depth - 1];
			if (next[n] == g->nodes[n].ref_count) {
				colour[n] = 2;
				if (order)
					order[emitted] = n;
				emitted++;
				depth--;
				continue;
			}
			size_t m = g->nodes[n].refs[next[n]++];
			if (colour[m] == 1) {
				stw_error("cyclic graph: '%s' references '%s', which leads back to it",
					  g->nodes[n].path, g->nodes[m].path);
				goto out;
			}
			if (!colour[m]) {
				colour[m] = 1;
				stack[depth++] = m;
			}
		}
	}
	ret = 0;
out:
	free(colour);
	free(stack);
	free(next);
	return ret;
}

int stw_graph_check_acyclic(const struct stw_graph *g)
{
	return graph_post_order(g, NULL);
}

/* ---- JSON shapes ---- */

static int json_entry(struct stw_graph *g, const char *path, json_t *obj, int pass)
{
	json_t *refs = json_object_get(obj, "references");
	json_t *size = json_object_get(obj, "narSize");
	size_t from, i;
	json_t *ref;

	if (!json_is_object(obj))
		return stw_error("entry for '%s' is not an object", path);
	if (pass == 0)
		return stw_graph_add(g, path, json_is_integer(size) && json_integer_value(size) > 0
						       ? (uint64_t)json_integer_value(size) : 0, NULL);
	if (refs && !json_is_array(refs))
		return stw_error("'references' of '%s' is not an array", path);
	stw_graph_find(g, path, &from);
	json_array_foreach(refs, i, ref) {
		size_t to;
		if (!json_is_string(ref))
			return stw_error("a reference of '%s' is not a string", path);
		if (!stw_graph_find(g, json_string_value(ref), &to))
			return stw_error("'%s' references '%s', which the graph does not list", path,
					 json_string_value(ref));
		if (stw_graph_add_reference(g, from, to) < 0)
			return -1;
	}
	return 0;
}

static int parse_json(struct stw_graph *g, json_t *root)
{
	for (int pass = 0; pass < 2; pass++) {
		if (json_is_array(root)) {
			size_t i;
			json_t *e;
			json_array_foreach(root, i, e) {
				json_t *path = json_object_get(e, "path");
				if (!json_is_string(path))
					return stw_error("entry %zu has no string 'path'", i);
				if (json_entry(g, json_string_value(path), e, pass) < 0)
					return -1;
			}
		} else if (json_is_object(root)) {
			const char *key;
			json_t *e;
			json_object_foreach(root, key, e) {
				if (json_is_null(e))
					return stw_error("'%s' is not a valid store path", key);
				if (json_entry(g, key, e, pass) < 0)
					return -1;
			}
		} else {
			return stw_error("expected an array or an object");
		}
	}
	return 0;
}

/* ---- classic exportReferencesGraph text: path, deriver, count, refs ---- */

static char *next_line(char **cursor, char *end)
{
	char *start = *cursor, *nl;
	if (start >= end)
		return NULL;
	nl = memchr(start, '\n', (size_t)(end - start));
	if (nl) {
		*nl = 0;
		*cursor = nl + 1;
	} else {
		*cursor = end;
	}
	return start;
}

static int parse_text(struct stw_graph *g, char *data, size_t len)
{
	for (int pass = 0; pass < 2; pass++) {
		struct buf copy;
		char *cursor, *end, *line;
		int ret = 0;

		buf_init(&copy);
		if (buf_add(&copy, data, len) < 0)
			return -1;
		cursor = copy.data;
		end = copy.data + copy.len;
		while (!ret && (line = next_line(&cursor, end))) {
			char *deriver, *count_text, *stop;
			unsigned long count;
			size_t from;
			if (!*line)
				continue;
			deriver = next_line(&cursor, end);
			count_text = next_line(&cursor, end);
			if (!deriver || !count_text) {
				ret = stw_error("truncated entry for '%s'", line);
				break;
			}
			count = strtoul(count_text, &stop, 10);
			if (*stop || stop == count_text || count_text[strspn(count_text, "0123456789")]) {
				ret = stw_error("bad reference count '%s' for '%s'", count_text, line);
				break;
			}
			if (pass == 0 && stw_graph_add(g, line, 0, NULL) < 0)
				ret = -1;
			if (!ret)
				stw_graph_find(g, line, &from);
			for (unsigned long k = 0; !ret && k < count; k++) {
				char *ref = next_line(&cursor, end);
				size_t to;
				if (!ref)
					ret = stw_error("truncated references of '%s'", line);
				else if (pass == 0)
					continue;
				else if (!stw_graph_find(g, ref, &to))
					ret = stw_error("'%s' references '%s', which the graph does not list",
							line, ref);
				else
					ret = stw_graph_add_reference(g, from, to);
			}
		}
		buf_release(&copy);
		if (ret < 0)
			return -1;
	}
	return 0;
}

int stw_graph_parse(struct stw_graph **out, const char *data, size_t len, const char *origin)
{
	struct stw_graph *g = NULL;
	json_t *root = NULL;
	size_t i = 0;
	int ret = -1;

	*out = NULL;
	if (stw_graph_new(&g) < 0)
		return -1;
	while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r'))
		i++;
	if (i < len && (data[i] == '[' || data[i] == '{')) {
		json_error_t err;
		root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
		if (!root) {
			stw_error("line %d: %s", err.line, err.text);
			goto out;
		}
		if (parse_json(g, root) < 0)
			goto out;
	} else if (parse_text(g, (char *)data, len) < 0) {
		goto out;
	}
	if (g->count == 0) {
		stw_error("the graph lists no paths");
		goto out;
	}
	if (stw_graph_check_acyclic(g) < 0)
		goto out;
	*out = g;
	g = NULL;
	ret = 0;
out:
	if (ret < 0)
		stw_error_wrap("cannot read closure graph '%s'", origin);
	json_decref(root);
	stw_graph_free(g);
	return ret;
}
