/*
 * The digests of uncompressed layers, each build thread hashing two
 * layers side by side (sha256_lanes.h): a thread reads a buffer of each
 * layer's tar, hashes both at once, and takes the next layer of the list
 * as soon as one of its two is done. Only when sha256_lanes_available().
 */
#ifndef STW_LIB_LAYER_LANES_H
#define STW_LIB_LAYER_LANES_H

#include "layer_tar.h"

#include <stddef.h>

/* out[k] gets the digests of layers[k] (diff_id = digest, for layers
 * stored uncompressed); jobs threads (0: one per core). -1 with the error
 * of the first layer that failed. */
int layer_lanes_digests(const struct stw_layer *const *layers, size_t count, int jobs,
			struct layer_digests *out);

#endif
