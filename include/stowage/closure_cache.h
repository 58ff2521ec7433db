/*
 * The closures Nix computed, kept in the cache directory. A store path's
 * references never change while it is valid, so the closure of a list of
 * store paths (what `nix path-info --json -r` said) can be reused as long as
 * every path in it still exists: a warm rebuild then runs no Nix command.
 */
#ifndef STOWAGE_CLOSURE_CACHE_H
#define STOWAGE_CLOSURE_CACHE_H

#include "stowage/graph.h"

#include <stddef.h>

/* 1 and the graph when the closure of paths is cached and every path in it
 * exists; 0 otherwise (nothing cached, a path gone, paths that are not all
 * literal store paths under store_dir, an unreadable entry). */
int stw_closure_cache_get(struct stw_graph **out, const char *cache_dir, const char *store_dir,
			  char *const *paths, size_t count);

/* Keeps closure (the closure of paths) for later; best effort, silent. */
void stw_closure_cache_put(const char *cache_dir, const char *store_dir, char *const *paths, size_t count,
			   const struct stw_graph *closure);

#endif
