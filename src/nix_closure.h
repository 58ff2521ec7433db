/* Asking Nix for a closure: `nix path-info --json -r PATHS`. */
#ifndef STW_NIX_CLOSURE_H
#define STW_NIX_CLOSURE_H

#include "stowage/graph.h"

/* Returns 0 and the graph, or prints one error line and returns 1. With a
 * cache_dir, a closure Nix gave before for the same store paths is reused
 * while all its paths exist (stowage/closure_cache.h). */
int nix_closure(struct stw_graph **out, char *const *paths, size_t count, const char *store_dir,
		const char *cache_dir);

#endif
