/*
 * SHA-256 of two independent streams at once, for the layers of a cold
 * build: see sha256_lanes.c for why this is not OpenSSL. Only for x86-64
 * with the SHA extensions; sha256_lanes_available() says whether it may be
 * used, and callers fall back to digest.h when it says no.
 */
#ifndef STW_LIB_SHA256_LANES_H
#define STW_LIB_SHA256_LANES_H

#include "digest.h"

#include <stddef.h>
#include <stdint.h>

struct sha256_lane {
	uint32_t state[8];
	unsigned char block[64]; /* a partial block waiting for more bytes */
	size_t block_len;
	uint64_t bytes;
};

/* 1 on a CPU with SHA-NI (and SSSE3, SSE4.1) unless STOWAGE_HASH_LANES=1
 * asks for OpenSSL's single stream; 0 otherwise. */
int sha256_lanes_available(void);

void sha256_lane_init(struct sha256_lane *l);
/* One lane alone. */
void sha256_lane_update(struct sha256_lane *l, const void *data, size_t len);
/* Two lanes, their whole blocks hashed side by side. */
void sha256_lanes_update(struct sha256_lane *a, const void *data_a, size_t len_a, struct sha256_lane *b,
			 const void *data_b, size_t len_b);
/* Writes "sha256:<hex>". */
void sha256_lane_final(struct sha256_lane *l, char out[STW_DIGEST_LEN + 1]);

#endif
