/*
 * SHA-256 through OpenSSL's EVP interface, which picks the hardware
 * accelerated implementation (SHA-NI, ARMv8 crypto) at run time.
 * A digest string is "sha256:" + 64 lowercase hex digits.
 */
#ifndef STW_LIB_DIGEST_H
#define STW_LIB_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define STW_DIGEST_LEN 71 /* "sha256:" + 64 hex, without the NUL */

struct sha256 {
	void *ctx; /* EVP_MD_CTX */
};

int sha256_init(struct sha256 *h);
int sha256_update(struct sha256 *h, const void *data, size_t len);
/* Writes the "sha256:<hex>" string (STW_DIGEST_LEN + 1 bytes) and resets h. */
int sha256_final(struct sha256 *h, char out[STW_DIGEST_LEN + 1]);
void sha256_release(struct sha256 *h);

/* One-shot digest of a memory block. */
int sha256_digest(char out[STW_DIGEST_LEN + 1], const void *data, size_t len);

/* True when s is a well-formed "sha256:<64 lowercase hex>" string. */
int digest_is_valid(const char *s);

#endif
