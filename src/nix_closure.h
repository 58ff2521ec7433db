/* Asking Nix for a closure: `nix path-info --json -r PATHS`. */
#ifndef STW_NIX_CLOSURE_H
#define STW_NIX_CLOSURE_H

#include "stowage/graph.h"

/* Returns 0 and the graph, or prints one error line and returns 1. */
int nix_closure(struct stw_graph **out, char *const *paths, size_t count);

#endif
