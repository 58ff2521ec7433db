#include "digest.h"
#include "error.h"
#include "sha256_lanes.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The implementation fetched once: EVP_sha256() makes every init look
 * the provider up again (a lock and a property query), 6% of a warm
 * build that hashes only cache keys. */
static EVP_MD *fetched;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void release_fetched(void)
{
	EVP_MD_free(fetched);
	fetched = NULL;
}

static void fetch(void)
{
	/* Hashing needs no openssl.cnf, whose loading was half the cost of
	 * the first fetch. A TLS connection (libcurl's libssl) still loads it
	 * when it initialises: the flag only keeps this first init from it. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (fetched)
		atexit(release_fetched);
}

static const EVP_MD *sha256_md(void)
{
	pthread_once(&fetch_once, fetch);
	return fetched ? fetched : EVP_sha256();
}

int sha256_init(struct sha256 *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, sha256_md(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		h->ctx = NULL;
		return stw_error("cannot initialise sha256");
	}
	h->ctx = ctx;
	return 0;
}

int sha256_update(struct sha256 *h, const void *data, size_t len)
{
	if (len && EVP_DigestUpdate(h->ctx, data, len) != 1)
		return stw_error("sha256 update failed");
	return 0;
}

static void hex_encode(char *out, const unsigned char *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = 0;
}

int sha256_final(struct sha256 *h, char out[STW_DIGEST_LEN + 1])
{
	unsigned char md[32];
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1 || len != 32 ||
	    EVP_DigestInit_ex(h->ctx, sha256_md(), NULL) != 1)
		return stw_error("sha256 final failed");
	memcpy(out, "sha256:", 7);
	hex_encode(out + 7, md, 32);
	return 0;
}

void sha256_release(struct sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

/* One-shot digests (cache keys, configs, manifests) go through the SHA-NI
 * code where there is one: OpenSSL's first EVP fetch builds its name map,
 * about 1 ms, a tenth of a warm build that hashes nothing else. */
int sha256_digest(char out[STW_DIGEST_LEN + 1], const void *data, size_t len)
{
	struct sha256 h;
	int ret;

	if (sha256_lanes_available()) {
		struct sha256_lane lane;
		sha256_lane_init(&lane);
		sha256_lane_update(&lane, data, len);
		sha256_lane_final(&lane, out);
		return 0;
	}
	if (sha256_init(&h) < 0)
		return -1;
	ret = sha256_update(&h, data, len);
	if (!ret)
		ret = sha256_final(&h, out);
	sha256_release(&h);
	return ret;
}

int digest_is_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != STW_DIGEST_LEN)
		return 0;
	for (const char *p = s + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}
