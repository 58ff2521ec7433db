#include "decompress.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define DECOMPRESS_OUT (128 * 1024)

static int pass_write(struct sink *s, const void *data, size_t len)
{
	return sink_write(s->next, data, len);
}

static int pass_finish(struct sink *s)
{
	return sink_finish(s->next);
}

static int gunzip_write(struct sink *s, const void *data, size_t len)
{
	struct decompress_sink *d = (struct decompress_sink *)s;
	z_stream *z = d->stream;

	z->next_in = (unsigned char *)data;
	while (len) {
		uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
		z->avail_in = chunk;
		while (z->avail_in) {
			int rc;
			d->in_frame = 1;
			z->next_out = d->out;
			z->avail_out = DECOMPRESS_OUT;
			rc = inflate(z, Z_NO_FLUSH);
			if (rc != Z_OK && rc != Z_STREAM_END)
				return stw_error("%s: not valid gzip data (%s)", d->origin, z->msg ? z->msg : "inflate failed");
			if (sink_write(s->next, d->out, DECOMPRESS_OUT - z->avail_out) < 0)
				return -1;
			if (rc == Z_STREAM_END) {
				/* another member may follow */
				d->in_frame = 0;
				if (inflateReset(z) != Z_OK)
					return stw_error("%s: gzip reset failed", d->origin);
			}
		}
		len -= chunk;
	}
	return 0;
}

static int zstd_write(struct sink *s, const void *data, size_t len)
{
	struct decompress_sink *d = (struct decompress_sink *)s;
	ZSTD_inBuffer in = { data, len, 0 };

	while (in.pos < in.size) {
		ZSTD_outBuffer out = { d->out, DECOMPRESS_OUT, 0 };
		size_t rc = ZSTD_decompressStream(d->stream, &out, &in);
		if (ZSTD_isError(rc))
			return stw_error("%s: not valid zstd data (%s)", d->origin, ZSTD_getErrorName(rc));
		d->in_frame = rc != 0;
		if (sink_write(s->next, d->out, out.pos) < 0)
			return -1;
	}
	return 0;
}

/* zstd may hold decoded bytes back until asked with no more input. */
static int zstd_drain(struct decompress_sink *d)
{
	for (;;) {
		ZSTD_inBuffer in = { NULL, 0, 0 };
		ZSTD_outBuffer out = { d->out, DECOMPRESS_OUT, 0 };
		size_t rc = ZSTD_decompressStream(d->stream, &out, &in);
		if (ZSTD_isError(rc))
			return stw_error("%s: not valid zstd data (%s)", d->origin, ZSTD_getErrorName(rc));
		if (sink_write(d->base.next, d->out, out.pos) < 0)
			return -1;
		if (out.pos < out.size)
			return 0;
	}
}

static int decompress_finish(struct sink *s)
{
	struct decompress_sink *d = (struct decompress_sink *)s;

	if (d->kind == STW_COMPRESSION_ZSTD && zstd_drain(d) < 0)
		return -1;
	if (d->in_frame)
		return stw_error("%s: the compressed stream ends early", d->origin);
	return sink_finish(s->next);
}

int decompress_sink_init(struct decompress_sink *d, enum stw_compression kind, const char *origin,
			 struct sink *next)
{
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->origin = origin;
	d->base.next = next;
	d->base.write = pass_write;
	d->base.finish = pass_finish;
	if (kind == STW_COMPRESSION_NONE)
		return 0;
	if (!(d->out = malloc(DECOMPRESS_OUT)))
		return stw_error("out of memory");
	d->base.finish = decompress_finish;
	if (kind == STW_COMPRESSION_GZIP) {
		z_stream *z = calloc(1, sizeof(*z));
		/* 16 + 15: a gzip wrapper, any window size */
		if (!z || inflateInit2(z, 16 + MAX_WBITS) != Z_OK) {
			free(z);
			return stw_error("out of memory");
		}
		d->stream = z;
		d->base.write = gunzip_write;
		return 0;
	}
	if (!(d->stream = ZSTD_createDCtx()))
		return stw_error("out of memory");
	/* a window larger than 128 MiB is refused: bounded memory */
	ZSTD_DCtx_setParameter(d->stream, ZSTD_d_windowLogMax, 27);
	d->base.write = zstd_write;
	return 0;
}

void decompress_sink_release(struct decompress_sink *d)
{
	if (d->stream && d->kind == STW_COMPRESSION_GZIP) {
		inflateEnd(d->stream);
		free(d->stream);
	} else if (d->stream) {
		ZSTD_freeDCtx(d->stream);
	}
	free(d->out);
	memset(d, 0, sizeof(*d));
}
