/*
 * Hand-written SHA-256 (x86-64 SHA extensions), for one reason: hashing
 * two streams in one instruction stream. SHA-NI's round instruction is
 * limited by its latency, not its throughput, so a core hashing one
 * stream idles half the time, and OpenSSL has no multi-stream SHA-256.
 * Measured on the 2-core AMD EPYC of CI, 256 KiB buffers: OpenSSL
 * EVP 1680 MiB/s; this code on one stream 1650 MiB/s, on two streams
 * interleaved 2700 MiB/s (1.6x). A cold build hashes a hundred
 * independent layers, so each build thread hashes two at once.
 *
 * Checked against OpenSSL for every length up to several blocks and for
 * arbitrary splits of the input (tests/unit/test_sha256_lanes.c).
 * Digests are written only after padding here; the block function is the
 * standard SHA-NI round sequence (Intel's SHA extensions paper).
 */
#include "sha256_lanes.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t initial_state[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

/* The state as the round instruction wants it: ABEF and CDGH. */
SHA_TARGET static inline void load_state(const uint32_t s[8], __m128i *abef, __m128i *cdgh)
{
	__m128i cdab = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[0]), 0xB1);
	__m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[4]), 0x1B);
	*abef = _mm_alignr_epi8(cdab, efgh, 8);
	*cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

SHA_TARGET static inline void store_state(uint32_t s[8], __m128i abef, __m128i cdgh)
{
	__m128i feba = _mm_shuffle_epi32(abef, 0x1B);
	__m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
	_mm_storeu_si128((__m128i *)&s[0], _mm_blend_epi16(feba, dchg, 0xF0));
	_mm_storeu_si128((__m128i *)&s[4], _mm_alignr_epi8(dchg, feba, 8));
}

/* Four rounds with message words w (+ the round constants of group i). */
#define ROUNDS4(abef, cdgh, w, i)                                                                \
	do {                                                                                     \
		__m128i m_ = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[4 * (i)]));    \
		cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m_);                                    \
		abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(m_, 0x0E));           \
	} while (0)

/* The next four message words into w0, from the previous sixteen w0..w3. */
#define SCHEDULE(w0, w1, w2, w3)                                                                  \
	w0 = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4)), w3)

#define LOAD_WORDS(w, p, at) w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + (at))), byte_swap)

SHA_TARGET static void blocks_1(uint32_t s[8], const unsigned char *p, size_t n)
{
	const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i abef, cdgh;

	load_state(s, &abef, &cdgh);
	for (; n; n--, p += 64) {
		__m128i abef0 = abef, cdgh0 = cdgh, w0, w1, w2, w3;
		LOAD_WORDS(w0, p, 0);
		LOAD_WORDS(w1, p, 16);
		LOAD_WORDS(w2, p, 32);
		LOAD_WORDS(w3, p, 48);
		ROUNDS4(abef, cdgh, w0, 0);
		ROUNDS4(abef, cdgh, w1, 1);
		ROUNDS4(abef, cdgh, w2, 2);
		ROUNDS4(abef, cdgh, w3, 3);
		for (int i = 4; i < 16; i += 4) {
			SCHEDULE(w0, w1, w2, w3);
			ROUNDS4(abef, cdgh, w0, i);
			SCHEDULE(w1, w2, w3, w0);
			ROUNDS4(abef, cdgh, w1, i + 1);
			SCHEDULE(w2, w3, w0, w1);
			ROUNDS4(abef, cdgh, w2, i + 2);
			SCHEDULE(w3, w0, w1, w2);
			ROUNDS4(abef, cdgh, w3, i + 3);
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}
	store_state(s, abef, cdgh);
}

/* blocks_1 on two streams, statement by statement, so that each round of
 * one stream fills the other's wait for its previous round. */
SHA_TARGET static void blocks_2(uint32_t sa[8], const unsigned char *pa, uint32_t sb[8], const unsigned char *pb,
				size_t n)
{
	const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i a_abef, a_cdgh, b_abef, b_cdgh;

	load_state(sa, &a_abef, &a_cdgh);
	load_state(sb, &b_abef, &b_cdgh);
	for (; n; n--, pa += 64, pb += 64) {
		__m128i a_abef0 = a_abef, a_cdgh0 = a_cdgh, b_abef0 = b_abef, b_cdgh0 = b_cdgh;
		__m128i x0, x1, x2, x3, y0, y1, y2, y3;
		LOAD_WORDS(x0, pa, 0);
		LOAD_WORDS(y0, pb, 0);
		LOAD_WORDS(x1, pa, 16);
		LOAD_WORDS(y1, pb, 16);
		LOAD_WORDS(x2, pa, 32);
		LOAD_WORDS(y2, pb, 32);
		LOAD_WORDS(x3, pa, 48);
		LOAD_WORDS(y3, pb, 48);
		ROUNDS4(a_abef, a_cdgh, x0, 0);
		ROUNDS4(b_abef, b_cdgh, y0, 0);
		ROUNDS4(a_abef, a_cdgh, x1, 1);
		ROUNDS4(b_abef, b_cdgh, y1, 1);
		ROUNDS4(a_abef, a_cdgh, x2, 2);
		ROUNDS4(b_abef, b_cdgh, y2, 2);
		ROUNDS4(a_abef, a_cdgh, x3, 3);
		ROUNDS4(b_abef, b_cdgh, y3, 3);
		for (int i = 4; i < 16; i += 4) {
			SCHEDULE(x0, x1, x2, x3);
			SCHEDULE(y0, y1, y2, y3);
			ROUNDS4(a_abef, a_cdgh, x0, i);
			ROUNDS4(b_abef, b_cdgh, y0, i);
			SCHEDULE(x1, x2, x3, x0);
			SCHEDULE(y1, y2, y3, y0);
			ROUNDS4(a_abef, a_cdgh, x1, i + 1);
			ROUNDS4(b_abef, b_cdgh, y1, i + 1);
			SCHEDULE(x2, x3, x0, x1);
			SCHEDULE(y2, y3, y0, y1);
			ROUNDS4(a_abef, a_cdgh, x2, i + 2);
			ROUNDS4(b_abef, b_cdgh, y2, i + 2);
			SCHEDULE(x3, x0, x1, x2);
			SCHEDULE(y3, y0, y1, y2);
			ROUNDS4(a_abef, a_cdgh, x3, i + 3);
			ROUNDS4(b_abef, b_cdgh, y3, i + 3);
		}
		a_abef = _mm_add_epi32(a_abef, a_abef0);
		a_cdgh = _mm_add_epi32(a_cdgh, a_cdgh0);
		b_abef = _mm_add_epi32(b_abef, b_abef0);
		b_cdgh = _mm_add_epi32(b_cdgh, b_cdgh0);
	}
	store_state(sa, a_abef, a_cdgh);
	store_state(sb, b_abef, b_cdgh);
}

static int cpu_has_sha(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
		return 0;
	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}
#else
/* Never called: sha256_lanes_available() is 0 here. */
static void blocks_1(uint32_t s[8], const unsigned char *p, size_t n) { (void)s; (void)p; (void)n; }
static void blocks_2(uint32_t sa[8], const unsigned char *pa, uint32_t sb[8], const unsigned char *pb, size_t n)
{
	(void)sa; (void)pa; (void)sb; (void)pb; (void)n;
}
static int cpu_has_sha(void) { return 0; }
#endif

static int lanes_on;
static pthread_once_t lanes_once = PTHREAD_ONCE_INIT;

static void decide_lanes(void)
{
	const char *lanes = getenv("STOWAGE_HASH_LANES");
	lanes_on = cpu_has_sha() && !(lanes && !strcmp(lanes, "1"));
}

int sha256_lanes_available(void)
{
	pthread_once(&lanes_once, decide_lanes); /* asked from every build thread */
	return lanes_on;
}

void sha256_lane_init(struct sha256_lane *l)
{
	memcpy(l->state, initial_state, sizeof(l->state));
	l->block_len = 0;
	l->bytes = 0;
}

/* Completes a waiting partial block from p; what is left of p after it. */
static const unsigned char *top_up(struct sha256_lane *l, const unsigned char *p, size_t *len)
{
	size_t n;

	if (!l->block_len)
		return p;
	n = 64 - l->block_len < *len ? 64 - l->block_len : *len;
	memcpy(l->block + l->block_len, p, n);
	l->block_len += n;
	*len -= n;
	if (l->block_len == 64) {
		blocks_1(l->state, l->block, 1);
		l->block_len = 0;
	}
	return p + n;
}

/* Whole blocks of p alone, and the rest kept for later. */
static void rest(struct sha256_lane *l, const unsigned char *p, size_t len)
{
	blocks_1(l->state, p, len / 64);
	memcpy(l->block, p + len / 64 * 64, len % 64);
	l->block_len = len % 64;
}

void sha256_lane_update(struct sha256_lane *l, const void *data, size_t len)
{
	const unsigned char *p = data;

	l->bytes += len;
	p = top_up(l, p, &len);
	if (len)
		rest(l, p, len);
}

void sha256_lanes_update(struct sha256_lane *a, const void *data_a, size_t len_a, struct sha256_lane *b,
			 const void *data_b, size_t len_b)
{
	const unsigned char *pa = data_a, *pb = data_b;
	size_t both;

	a->bytes += len_a;
	b->bytes += len_b;
	pa = top_up(a, pa, &len_a);
	pb = top_up(b, pb, &len_b);
	both = len_a / 64 < len_b / 64 ? len_a / 64 : len_b / 64;
	blocks_2(a->state, pa, b->state, pb, both);
	pa += both * 64;
	pb += both * 64;
	if (len_a)
		rest(a, pa, len_a - both * 64);
	if (len_b)
		rest(b, pb, len_b - both * 64);
}

void sha256_lane_final(struct sha256_lane *l, char out[STW_DIGEST_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char tail[128] = { 0 };
	size_t tail_len = l->block_len + 9 <= 64 ? 64 : 128;
	uint64_t bits = l->bytes * 8;

	memcpy(tail, l->block, l->block_len);
	tail[l->block_len] = 0x80;
	for (int i = 0; i < 8; i++)
		tail[tail_len - 1 - i] = (unsigned char)(bits >> (8 * i));
	blocks_1(l->state, tail, tail_len / 64);
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		unsigned char byte = (unsigned char)(l->state[i / 4] >> (24 - 8 * (i % 4)));
		out[7 + 2 * i] = hex[byte >> 4];
		out[8 + 2 * i] = hex[byte & 15];
	}
	out[STW_DIGEST_LEN] = 0;
}
