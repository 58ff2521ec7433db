/*
 * Decompressing a layer blob as it arrives: a sink that inflates gzip
 * (several members allowed, as pigz and concatenating writers make) or
 * zstd (several frames allowed), or passes bytes on unchanged, and
 * forwards the tar stream to next. Finishing fails when the compressed
 * stream was cut short.
 */
#ifndef STW_LIB_DECOMPRESS_H
#define STW_LIB_DECOMPRESS_H

#include "sink.h"
#include "stowage/image.h"

struct decompress_sink {
	struct sink base;
	enum stw_compression kind;
	void *stream;       /* z_stream or ZSTD_DCtx */
	unsigned char *out;
	int in_frame;       /* bytes of an unfinished member or frame were seen */
	const char *origin; /* names the blob in errors */
};

/* origin must outlive the sink. */
int decompress_sink_init(struct decompress_sink *d, enum stw_compression kind, const char *origin,
			 struct sink *next);
void decompress_sink_release(struct decompress_sink *d);

#endif
