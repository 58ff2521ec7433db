/*
 * Writing a layer's tar stream, and computing a layer's digests by
 * streaming it through hash -> compressor -> hash (-> optional sink).
 */
#ifndef STW_LIB_LAYER_TAR_H
#define STW_LIB_LAYER_TAR_H

#include "sink.h"
#include "stowage/image.h"

/* Writes the uncompressed tar of layer's trees to out. */
int layer_tar_write(const struct stw_layer *layer, struct sink *out);

struct layer_digests {
	char diff_id[72];
	char digest[72];
	uint64_t tar_size;
	uint64_t size;
};

/* Synthesises the layer, compressed as layer->compression, into blob_out
 * (may be NULL: digests only) and reports its digests. */
int layer_compute(const struct stw_layer *layer, struct sink *blob_out, struct layer_digests *out);

/* 0 when d are the digests recorded in layer, else an error naming the
 * layer (content changed since the build). */
int layer_check_digests(const struct stw_layer *layer, const struct layer_digests *d);

/* As layer_compute, then fails naming the layer unless the digests equal
 * the ones recorded in layer (content changed since the build). */
int layer_write_verified(const struct stw_layer *layer, struct sink *blob_out);

/* Writes the uncompressed tar, failing unless it matches layer->diff_id. */
int layer_write_tar_verified(const struct stw_layer *layer, struct sink *out);

#endif
