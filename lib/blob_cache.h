/*
 * The compressed-blob cache: the gzip/zstd blob of a layer, kept under its
 * digest as CACHE_DIR/blobs/sha256/<hex>, so that compressing a layer once
 * (at build) serves every later push and copy of it. Uncompressed layers
 * are not kept: they are synthesised at hashing speed.
 *
 * Files are written under a temporary name and renamed into place, so
 * readers only ever see complete blobs; a blob deleted under a reader is
 * harmless (it holds the fd). Reading a blob touches its mtime; after each
 * blob added, the least recently used are deleted until blobs/ holds at
 * most max_bytes. The cache is an optimisation: failing to write it is
 * never an error, and a cached blob whose content does not match its name
 * is deleted and the layer synthesised instead.
 */
#ifndef STW_LIB_BLOB_CACHE_H
#define STW_LIB_BLOB_CACHE_H

#include "layer_tar.h"

struct blob_cache {
	const char *dir;    /* the cache directory; NULL: no blob cache */
	uint64_t max_bytes; /* the cap of blobs/; 0: no blob cache */
};

enum blob_cache_mode {
	/* synthesise and keep a copy; no lookup (stw_build: the recorded
	 * digest is not known yet, or stale) */
	BLOB_CACHE_FILL,
	/* a cached blob goes to out as it is read; a corrupt one is deleted
	 * and shows in the digests reported: the caller discards what out
	 * received and calls again, which synthesises */
	BLOB_CACHE_STREAM,
	/* a cached blob is hashed whole before any byte goes to out (for an
	 * out that cannot take back what it received) */
	BLOB_CACHE_VERIFY_FIRST,
};

/* As layer_compute: writes the blob to out (may be NULL) and reports the
 * digests of what was written; served from the cache when it holds the
 * recorded digest with the recorded size (*from_cache = 1), else
 * synthesised and, for a compressed layer, a copy committed to the cache.
 * A blob served from the cache reports the layer's recorded diff_id. */
int blob_cache_compute(const struct blob_cache *c, enum blob_cache_mode mode, const struct stw_layer *layer,
		       struct sink *out, struct layer_digests *d, int *from_cache);

/* As layer_write_verified, through the cache (BLOB_CACHE_VERIFY_FIRST). */
int blob_cache_write_verified(const struct blob_cache *c, const struct stw_layer *layer, struct sink *out);

/* Deletes the least recently used blobs until blobs/ holds at most
 * c->max_bytes (and temporary files left by a crash a day ago). */
void blob_cache_evict(const struct blob_cache *c);

#endif
