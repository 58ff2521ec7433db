/*
 * Grouping store paths into layers. A plan is a list of groups of graph
 * indices, bottom layer first. Both strategies are pure functions of the
 * graph (paths, references, sizes), never of the host or the time.
 *
 * popularity: nixpkgs' closure-graph.py contest (a path scores once per
 *   occurrence in the tree expansion of the closure, so shared libraries
 *   score high), ties broken by name with the hash moved to the end; the
 *   first max-1 paths get a layer each and the rest share the last one,
 *   exactly as dockerTools and nix2container do.
 * size (default): closure roots and aggregators (small paths that refer to
 *   many others: buildEnv trees, wrappers) first, then paths by size, get
 *   layers of their own; the remaining small paths are packed, in popularity order,
 *   into as many groups as the budget leaves, each as small as that allows
 *   and no larger than the smallest layer chosen for its size. So there is
 *   no catch-all layer (unless --max-layers leaves room for only one): a
 *   change to one path re-uploads that path's own layer or a group no
 *   larger than any path that got a layer for its size. An aggregator
 *   changes whenever one of its many references does: alone, that costs
 *   its own few bytes, not a group's.
 */
#ifndef STW_LIB_LAYERING_H
#define STW_LIB_LAYERING_H

#include "stowage/build.h"
#include "stowage/graph.h"

struct layer_plan {
	size_t **groups;
	size_t *group_len;
	size_t count;
};

void layer_plan_release(struct layer_plan *p);
/* Paths of g with their popularity order in order[] (most popular first). */
int popularity_order(size_t *order, const struct stw_graph *g);
/* Plans the paths of g whose include[] is set (all when include is NULL).
 * Popularity is scored on the whole graph, as nixpkgs scores the whole
 * closure; "closure roots" for the size strategy are the included paths
 * no other included path references (the application, typically). */
/* A path that refers to at least this many included paths and is smaller
 * than LAYER_AGGREGATOR_SIZE is an aggregator. */
#define LAYER_AGGREGATOR_REFS 16
#define LAYER_AGGREGATOR_SIZE (1024 * 1024)

int layer_plan_make(struct layer_plan *p, const struct stw_graph *g, const unsigned char *include,
		    enum stw_strategy strategy, size_t max_layers);

#endif
