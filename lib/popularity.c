/*
 * The popularity contest of nixpkgs' closure-graph.py, computed without
 * expanding the DAG into a tree: for a node n,
 *   score_n = {n: 1} + {s: 1 + sum over children c of score_c[s]}
 * and the image's score is the sum over the roots. Scores of a node's
 * subtree are kept sparse (its closure), so memory is the sum of closure
 * sizes rather than the (exponential) tree size.
 */
#include "layering.h"
#include "error.h"
#include "graph_order.h"

#include <stdlib.h>
#include <string.h>

struct sparse_score {
	size_t *node;
	uint64_t *value;
	size_t len;
};

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int score_node(struct sparse_score *scores, const struct stw_graph *g, size_t v,
		      uint64_t *acc, size_t *touched)
{
	size_t count = 0;
	struct sparse_score *s = &scores[v];

	for (size_t k = 0; k < stw_graph_reference_count(g, v); k++) {
		const struct sparse_score *c = &scores[stw_graph_reference(g, v, k)];
		for (size_t j = 0; j < c->len; j++) {
			if (!acc[c->node[j]])
				touched[count++] = c->node[j];
			acc[c->node[j]] = add_saturating(acc[c->node[j]], c->value[j]);
		}
	}
	s->node = malloc((count + 1) * sizeof(size_t));
	s->value = malloc((count + 1) * sizeof(uint64_t));
	if (!s->node || !s->value)
		return stw_error("out of memory");
	s->node[0] = v;
	s->value[0] = 1;
	for (size_t j = 0; j < count; j++) {
		s->node[j + 1] = touched[j];
		s->value[j + 1] = add_saturating(acc[touched[j]], 1);
		acc[touched[j]] = 0;
	}
	s->len = count + 1;
	return 0;
}

/* closure-graph.py's package_name: "/nix/store/<hash>-foo-1.0" sorts as
 * "foo-1.0-/nix/store/<hash>", so the order is stable when hashes change. */
static char *package_name_key(const char *path)
{
	const char *dash = strchr(path, '-');
	size_t len = strlen(path), head;
	char *key = malloc(len + 1);

	if (!key || !dash) {
		if (key)
			memcpy(key, path, len + 1);
		return key;
	}
	head = (size_t)(dash - path);
	memcpy(key, dash + 1, len - head - 1);
	key[len - head - 1] = '-';
	memcpy(key + len - head, path, head);
	key[len] = 0;
	return key;
}

struct ranked {
	size_t node;
	uint64_t score;
	char *key;
};

static int compare_ranked(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return strcmp(a->key, b->key);
}

int popularity_order(size_t *order, const struct stw_graph *g)
{
	size_t n = stw_graph_count(g);
	struct sparse_score *scores = calloc(n ? n : 1, sizeof(*scores));
	uint64_t *acc = calloc(n ? n : 1, sizeof(uint64_t));
	uint64_t *total = calloc(n ? n : 1, sizeof(uint64_t));
	size_t *touched = malloc((n ? n : 1) * sizeof(size_t));
	unsigned char *referenced = calloc(n ? n : 1, 1);
	size_t *post = malloc((n ? n : 1) * sizeof(size_t));
	struct ranked *ranked = malloc((n ? n : 1) * sizeof(*ranked));
	int ret = -1;

	if (!scores || !acc || !total || !touched || !referenced || !post || !ranked) {
		stw_error("out of memory");
		goto out;
	}
	if (graph_post_order(g, post) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (score_node(scores, g, post[i], acc, touched) < 0)
			goto out;
	for (size_t v = 0; v < n; v++)
		for (size_t k = 0; k < stw_graph_reference_count(g, v); k++)
			referenced[stw_graph_reference(g, v, k)] = 1;
	for (size_t v = 0; v < n; v++) {
		if (referenced[v])
			continue;
		for (size_t j = 0; j < scores[v].len; j++)
			total[scores[v].node[j]] = add_saturating(total[scores[v].node[j]], scores[v].value[j]);
	}
	for (size_t v = 0; v < n; v++) {
		ranked[v] = (struct ranked){ v, total[v], package_name_key(stw_graph_path(g, v)) };
		if (!ranked[v].key) {
			for (size_t j = 0; j < v; j++)
				free(ranked[j].key);
			stw_error("out of memory");
			goto out;
		}
	}
	qsort(ranked, n, sizeof(*ranked), compare_ranked);
	for (size_t i = 0; i < n; i++) {
		order[i] = ranked[i].node;
		free(ranked[i].key);
	}
	ret = 0;
out:
	for (size_t v = 0; scores && v < n; v++) {
		free(scores[v].node);
		free(scores[v].value);
	}
	free(scores);
	free(acc);
	free(total);
	free(touched);
	free(referenced);
	free(post);
	free(ranked);
	return ret;
}
