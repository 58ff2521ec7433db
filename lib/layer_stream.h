/*
 * A layer's tar, read in pieces: the caller asks for the next bytes into
 * its own buffer. One producer serves both ways of consuming a layer:
 * layer_tar_write pushes it through a sink chain, and the lane hasher
 * (layer_lanes.c) pulls two layers side by side to hash them together.
 * The bytes are those of docs/tar-format.md, whoever reads them.
 */
#ifndef STW_LIB_LAYER_STREAM_H
#define STW_LIB_LAYER_STREAM_H

#include "buf.h"
#include "tree.h"

#include <stdint.h>
#include <sys/types.h>

struct layer_stream {
	struct tree tree;
	size_t next;              /* the next entry to start */
	struct buf staged;        /* header bytes not yet handed out */
	size_t staged_at;
	const struct tree_entry *file; /* the file whose data is due, or NULL */
	int fd;
	uint64_t pos;             /* in the file */
	uint64_t segment_end;     /* data or hole run [pos, segment_end) */
	int in_hole;
	uint64_t padding;         /* zeros due after the file */
	int ended;                /* the end marker is staged */
	const char *dir_path;     /* the open directory of the last file */
	size_t dir_len;
	int dir_fd;
};

/* Collects the layer's entries (metadata only); -1 with the error set. */
int layer_stream_open(struct layer_stream *s, const struct stw_layer *layer);

/* Fills up to cap bytes of buf; the count (short only at the end), 0 once
 * the stream is over, -1 with the error set. */
ssize_t layer_stream_read(struct layer_stream *s, char *buf, size_t cap);

void layer_stream_close(struct layer_stream *s);

#endif
