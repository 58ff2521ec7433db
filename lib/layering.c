#include "layering.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

int stw_strategy_parse(enum stw_strategy *out, const char *name)
{
	if (!strcmp(name, "size"))
		*out = STW_STRATEGY_SIZE;
	else if (!strcmp(name, "popularity"))
		*out = STW_STRATEGY_POPULARITY;
	else
		return stw_error("unknown layering strategy '%s' (expected size or popularity)", name);
	return 0;
}

void layer_plan_release(struct layer_plan *p)
{
	for (size_t i = 0; i < p->count; i++)
		free(p->groups[i]);
	free(p->groups);
	free(p->group_len);
	memset(p, 0, sizeof(*p));
}

static int plan_alloc(struct layer_plan *p, size_t count)
{
	p->groups = calloc(count ? count : 1, sizeof(*p->groups));
	p->group_len = calloc(count ? count : 1, sizeof(*p->group_len));
	if (!p->groups || !p->group_len)
		return stw_error("out of memory");
	p->count = count;
	return 0;
}

static int group_set(struct layer_plan *p, size_t g, const size_t *nodes, size_t len)
{
	p->groups[g] = malloc((len ? len : 1) * sizeof(size_t));
	if (!p->groups[g])
		return stw_error("out of memory");
	memcpy(p->groups[g], nodes, len * sizeof(size_t));
	p->group_len[g] = len;
	return 0;
}

static int plan_popularity(struct layer_plan *p, const size_t *order, size_t n, size_t max)
{
	size_t own = n <= max ? n : max - 1;

	if (plan_alloc(p, n <= max ? n : max) < 0)
		return -1;
	for (size_t i = 0; i < own; i++)
		if (group_set(p, i, &order[i], 1) < 0)
			return -1;
	if (n > max && group_set(p, own, &order[own], n - own) < 0)
		return -1;
	return 0;
}

struct size_rank {
	size_t node;
	size_t rank; /* position in popularity order */
	uint64_t size;
	int root; /* a closure root or an aggregator: alone before any size */
};

static int compare_standalone(const void *pa, const void *pb)
{
	const struct size_rank *a = pa, *b = pb;
	if (a->root != b->root)
		return a->root ? -1 : 1;
	if (a->size != b->size)
		return a->size > b->size ? -1 : 1;
	return a->rank < b->rank ? -1 : a->rank > b->rank;
}

/* Groups needed to pack the non-standalone paths (in popularity order)
 * into layers of at most cap bytes. */
static size_t count_groups(const size_t *order, size_t n, const unsigned char *alone,
			   const uint64_t *size, uint64_t cap)
{
	size_t groups = 0;
	uint64_t fill = 0;
	int open = 0;

	for (size_t i = 0; i < n; i++) {
		size_t v = order[i];
		if (alone[v])
			continue;
		if (!open || fill + size[v] > cap) {
			groups++;
			fill = 0;
			open = 1;
		}
		fill += size[v];
	}
	return groups;
}

/* The bounds of the cap for the non-standalone paths: the largest one
 * (no smaller cap can hold it) and their total (one group holds all). */
static void cap_bounds(uint64_t *lo, uint64_t *hi, const size_t *order, size_t n, const unsigned char *alone,
		       const uint64_t *size)
{
	*lo = 1;
	*hi = 0;
	for (size_t i = 0; i < n; i++) {
		if (alone[order[i]])
			continue;
		*hi += size[order[i]];
		if (size[order[i]] > *lo)
			*lo = size[order[i]];
	}
}

/* The smallest cap with which the non-standalone paths fit in `budget`
 * groups (count_groups only falls as the cap grows). -1 if they cannot. */
static int smallest_cap(uint64_t *cap, const size_t *order, size_t n, const unsigned char *alone,
			const uint64_t *size, size_t budget)
{
	uint64_t lo, hi;

	cap_bounds(&lo, &hi, order, n, alone, size);
	if (hi == 0) { /* nothing (or only empty paths) left to group */
		*cap = 1;
		return count_groups(order, n, alone, size, 1) <= budget ? 0 : -1;
	}
	if (count_groups(order, n, alone, size, hi) > budget)
		return -1;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (count_groups(order, n, alone, size, mid) <= budget)
			hi = mid;
		else
			lo = mid + 1;
	}
	*cap = lo;
	return 0;
}

/* Whether smallest_cap succeeds with a cap no larger than limit, without
 * searching for it: one count at the limit says as much, since the count
 * only falls as the cap grows. The planner asks this for every number of
 * standalone layers it tries, and searching each time was most of the
 * planning time of a warm rebuild. */
static int fits_within(uint64_t limit, const size_t *order, size_t n, const unsigned char *alone,
		       const uint64_t *size, size_t budget)
{
	uint64_t lo, hi;

	cap_bounds(&lo, &hi, order, n, alone, size);
	if (hi == 0)
		return limit >= 1 && count_groups(order, n, alone, size, 1) <= budget;
	if (limit < lo)
		return 0;
	return count_groups(order, n, alone, size, limit < hi ? limit : hi) <= budget;
}

static int plan_size(struct layer_plan *p, const struct stw_graph *g, const unsigned char *include,
		     const size_t *order, size_t n, size_t max)
{
	size_t nodes = stw_graph_count(g);
	struct size_rank *by_size = malloc((n ? n : 1) * sizeof(*by_size));
	unsigned char *alone = calloc(nodes ? nodes : 1, 1);
	unsigned char *referenced = calloc(nodes ? nodes : 1, 1);
	size_t *refs = calloc(nodes ? nodes : 1, sizeof(size_t));
	uint64_t *size = calloc(nodes ? nodes : 1, sizeof(uint64_t));
	size_t *members = malloc((n ? n : 1) * sizeof(size_t));
	size_t standalone = 0, groups = 0, layer = 0;
	uint64_t cap = 0, total = 0;
	int ret = -1;

	if (!by_size || !alone || !referenced || !refs || !size || !members) {
		stw_error("out of memory");
		goto out;
	}
	for (size_t v = 0; v < nodes; v++)
		for (size_t k = 0; (!include || include[v]) && k < stw_graph_reference_count(g, v); k++) {
			size_t w = stw_graph_reference(g, v, k);
			referenced[w] = 1;
			refs[v] += w != v && (!include || include[w]);
		}
	for (size_t i = 0; i < n; i++) {
		size_t v = order[i];
		int aggregator = refs[v] >= LAYER_AGGREGATOR_REFS && stw_graph_nar_size(g, v) < LAYER_AGGREGATOR_SIZE;
		size[v] = stw_graph_nar_size(g, v);
		total += size[v];
		by_size[i] = (struct size_rank){ v, i, size[v], !referenced[v] || aggregator };
	}
	qsort(by_size, n, sizeof(*by_size), compare_standalone);
	/* From the most standalone layers down: the remaining paths are packed
	 * with the smallest cap that fits the layers left, and the choice is
	 * taken once that cap is no larger than the smallest layer chosen for
	 * its size. Roots are not that bound: a tiny root (a wrapper script)
	 * must not force the groups to be tiny and too many. */
	for (standalone = n <= max ? n : max - 1;; standalone--) {
		uint64_t limit = UINT64_MAX;
		memset(alone, 0, nodes);
		for (size_t i = 0; i < standalone; i++) {
			alone[by_size[i].node] = 1;
			if (!by_size[i].root)
				limit = by_size[i].size;
		}
		if (fits_within(limit, order, n, alone, size, max - standalone)) {
			smallest_cap(&cap, order, n, alone, size, max - standalone);
			break;
		}
		if (standalone == 0) { /* max is 1: one layer holds everything */
			cap = total ? total : 1;
			break;
		}
	}
	groups = count_groups(order, n, alone, size, cap);
	if (plan_alloc(p, standalone + groups) < 0)
		goto out;
	/* Emit layers in popularity order: a standalone path where it ranks,
	 * a group where its most popular member ranks. Groups are runs of
	 * the non-standalone paths in that same order. */
	for (size_t i = 0; i < n; i++) {
		size_t v = order[i], len = 0;
		uint64_t fill = 0;
		if (alone[v] == 1) {
			if (group_set(p, layer++, &v, 1) < 0)
				goto out;
			continue;
		}
		if (alone[v] == 2)
			continue; /* already placed in an earlier group */
		for (size_t j = i; j < n; j++) {
			size_t w = order[j];
			if (alone[w])
				continue;
			if (len && fill + size[w] > cap)
				break;
			members[len++] = w;
			fill += size[w];
			alone[w] = 2;
		}
		if (group_set(p, layer++, members, len) < 0)
			goto out;
	}
	p->count = layer;
	ret = 0;
out:
	free(by_size);
	free(alone);
	free(referenced);
	free(refs);
	free(size);
	free(members);
	return ret;
}

int layer_plan_make(struct layer_plan *p, const struct stw_graph *g, const unsigned char *include,
		    enum stw_strategy strategy, size_t max_layers)
{
	size_t n = stw_graph_count(g), kept = 0;
	size_t *order = malloc((n ? n : 1) * sizeof(size_t));
	int ret = -1;

	memset(p, 0, sizeof(*p));
	if (!order)
		return stw_error("out of memory");
	if (popularity_order(order, g) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!include || include[order[i]])
			order[kept++] = order[i];
	if (kept == 0) {
		ret = 0;
		goto out;
	}
	if (max_layers < 1) {
		stw_error("no layer left for %zu store paths: raise --max-layers", kept);
		goto out;
	}
	if (strategy == STW_STRATEGY_POPULARITY)
		ret = plan_popularity(p, order, kept, max_layers);
	else
		ret = plan_size(p, g, include, order, kept, max_layers);
out:
	free(order);
	if (ret < 0)
		layer_plan_release(p);
	return ret;
}
