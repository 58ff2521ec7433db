/*
 * Layer compression with pinned parameters, so a compressed blob's digest
 * is a pure function of the tar stream (for a given zlib/zstd release):
 *   gzip: zlib deflate level 4, windowBits 15, memLevel 8, default
 *         strategy; header with mtime 0, no name, xfl 0, OS 255 (unknown)
 *         as Go's compress/gzip writes it, so the host OS never shows.
 *   zstd: level 3, single-threaded, no checksum, no dictionary, content
 *         size not written (the stream length is not known up front).
 */
#ifndef STW_LIB_COMPRESS_H
#define STW_LIB_COMPRESS_H

#include "sink.h"
#include "stowage/image.h"

struct compress_sink {
	struct sink base;
	enum stw_compression kind;
	void *stream; /* z_stream or ZSTD_CCtx */
	unsigned char *out;
};

/* For STW_COMPRESSION_NONE the sink only forwards. */
int compress_sink_init(struct compress_sink *c, enum stw_compression kind, struct sink *next);
void compress_sink_release(struct compress_sink *c);

#endif
