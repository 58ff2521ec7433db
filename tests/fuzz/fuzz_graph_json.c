/* Closure graphs: exportReferencesGraph, `nix path-info --json` (array and
 * object shapes) and the text form; the order a parsed graph gives. */
#include "fuzz.h"
#include "stowage/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stw_graph *g = NULL, *merged = NULL;

	if (stw_graph_parse(&g, (const char *)data, size, "fuzz") < 0)
		return 0;
	for (size_t i = 0; i < stw_graph_count(g); i++) {
		size_t at;
		if (stw_graph_find(g, stw_graph_path(g, i), &at) != 1 || at != i)
			abort();
		for (size_t k = 0; k < stw_graph_reference_count(g, i); k++)
			if (stw_graph_reference(g, i, k) >= stw_graph_count(g))
				abort();
	}
	if (stw_graph_new(&merged) == 0 && stw_graph_merge(merged, g) == 0 && stw_graph_count(merged) != stw_graph_count(g))
		abort();
	stw_graph_free(merged);
	stw_graph_free(g);
	return 0;
}
