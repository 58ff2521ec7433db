/* Internal: a closure graph's paths in post-order (every path after the
 * paths it references), which the popularity contest scores in. */
#ifndef STW_LIB_GRAPH_ORDER_H
#define STW_LIB_GRAPH_ORDER_H

#include "stowage/graph.h"

/* Fills order (stw_graph_count entries; may be NULL to only check) and
 * fails naming a path on a cycle. */
int graph_post_order(const struct stw_graph *g, size_t *order);

#endif
