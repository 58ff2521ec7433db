/*
 * The layer tar byte format, fixed so a layer digest is a pure function of
 * the file tree (see docs/tar-format.md):
 *   - ustar headers ("ustar\0" "00"), numeric fields zero-padded octal with
 *     a NUL terminator, checksum "%06o\0 ";
 *   - mtime fixed (STW_TAR_MTIME), devmajor/devminor "0000000\0" unless a
 *     device; uname/gname "root" for id 0, empty otherwise;
 *   - one PAX 'x' header named "././@PaxHeader" before an entry only when
 *     ustar cannot hold a value: path > 100 bytes (no prefix splitting),
 *     linkpath > 100 bytes, size >= 8 GiB, uid/gid > 07777777; records in
 *     that order;
 *   - directories end in '/'; the archive ends with two zero blocks and is
 *     not padded to a record size.
 * Hand-written rather than libarchive so the bytes cannot change with a
 * library release (libarchive and Go's archive/tar have both changed their
 * PAX and header choices over time).
 */
#ifndef STW_LIB_TAR_HEADER_H
#define STW_LIB_TAR_HEADER_H

#include "sink.h"

#include <stdint.h>

#define STW_TAR_MTIME 1 /* 1970-01-01T00:00:01Z */
#define TAR_BLOCK 512

enum tar_type {
	TAR_FILE = '0',
	TAR_SYMLINK = '2',
	TAR_CHAR = '3',
	TAR_BLOCK_DEV = '4',
	TAR_DIR = '5',
	TAR_FIFO = '6',
};

struct tar_header {
	const char *name;     /* without leading '/', without trailing '/' */
	const char *linkname; /* symlinks only */
	enum tar_type type;
	unsigned mode;
	uint64_t uid, gid, size;
	uint64_t mtime;
	unsigned devmajor, devminor;
};

/* Writes the (PAX +) ustar header for h. */
int tar_write_header(struct sink *out, const struct tar_header *h);
/* Writes the zero padding after size bytes of entry data. */
int tar_write_padding(struct sink *out, uint64_t size);
/* Writes the end-of-archive marker. */
int tar_write_end(struct sink *out);
/* Bytes the header of h takes in the stream (PAX included). */
uint64_t tar_header_size(const struct tar_header *h);

/* The usual shape for a non-layer archive member (docker-archive,
 * oci-archive): a regular file of mode 0644. */
int tar_write_file_header(struct sink *out, const char *name, uint64_t size);
int tar_write_dir_header(struct sink *out, const char *name);

#endif
