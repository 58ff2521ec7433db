/*
 * The digest cache: a layer's digests keyed by what determines them, so a
 * rebuild with unchanged inputs reads no file contents. Store paths are
 * immutable, so they are keyed by name plus the stat of their top (which
 * changes if the path is garbage-collected and built again); other trees
 * are keyed by the stat data (inode, size, mtime, ctime, mode) of every
 * entry. Entries live in CACHE_DIR/layers/<2 hex>/<62 hex>, written
 * atomically; an unreadable or malformed entry is a miss.
 */
#ifndef STW_LIB_DIGEST_CACHE_H
#define STW_LIB_DIGEST_CACHE_H

#include "layer_tar.h"

/* The key of a layer: "sha256:<hex>". */
int digest_cache_key(char key[72], const struct stw_layer *layer, const char *store_dir);
/* 1 on a hit (out filled), 0 on a miss. Never fails. */
int digest_cache_get(const char *cache_dir, const char *key, struct layer_digests *out);
/* Best effort: a cache that cannot be written is not an error. */
void digest_cache_put(const char *cache_dir, const char *key, const struct layer_digests *d);

#endif
