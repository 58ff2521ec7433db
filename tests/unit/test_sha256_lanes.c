/* SHA-256 in two lanes (lib/sha256_lanes.c), checked against OpenSSL
 * (lib/digest.c) on every length around the block boundaries, on
 * arbitrary splits of the input, and two streams side by side. */
#include "harness.h"

#include "digest.h"
#include "sha256_lanes.h"

#define SHA_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_MILLION_A "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static unsigned char data[3 << 16];

static void fill(unsigned seed)
{
	for (size_t i = 0; i < sizeof(data); i++) {
		seed = seed * 1103515245u + 12345u;
		data[i] = (unsigned char)(seed >> 16);
	}
}

/* A test passes without checking where the CPU has no SHA-NI: the lanes
 * are never used there (build falls back to OpenSSL). */
static int lanes_here(void)
{
	if (sha256_lanes_available())
		return 1;
	test_note("no SHA-NI on this CPU: the lanes are not used here");
	return 0;
}

static void lane_digest(char out[STW_DIGEST_LEN + 1], const void *p, size_t len)
{
	struct sha256_lane l;
	sha256_lane_init(&l);
	sha256_lane_update(&l, p, len);
	sha256_lane_final(&l, out);
}

TEST(known_vectors)
{
	char out[STW_DIGEST_LEN + 1];
	struct sha256_lane l;

	if (!lanes_here())
		return;
	lane_digest(out, "abc", 3);
	CHECK_EQ_STR(out, SHA_ABC);
	lane_digest(out, "", 0);
	CHECK_EQ_STR(out, SHA_EMPTY);
	memset(data, 'a', 1000);
	sha256_lane_init(&l);
	for (int i = 0; i < 1000; i++)
		sha256_lane_update(&l, data, 1000);
	sha256_lane_final(&l, out);
	CHECK_EQ_STR(out, SHA_MILLION_A);
}

TEST(every_length_and_split)
{
	char want[STW_DIGEST_LEN + 1], got[STW_DIGEST_LEN + 1];

	if (!lanes_here())
		return;
	fill(1);
	for (size_t len = 0; len <= 700; len++) {
		struct sha256_lane l;
		size_t split = len * 37 % (len + 1), at = 0;
		CHECK_OK(sha256_digest(want, data, len));
		lane_digest(got, data, len);
		CHECK_EQ_STR(got, want);
		/* three pieces: [0, split), then pieces of 13 */
		sha256_lane_init(&l);
		sha256_lane_update(&l, data, split);
		for (at = split; at < len; at += 13)
			sha256_lane_update(&l, data + at, len - at < 13 ? len - at : 13);
		sha256_lane_final(&l, got);
		CHECK_EQ_STR(got, want);
	}
}

/* Two streams of different lengths fed side by side in uneven pieces,
 * then one alone: each equals its own OpenSSL digest. */
TEST(two_lanes)
{
	static const size_t pieces[] = { 0, 1, 63, 64, 65, 4096, 262144, 100, 7, 128 };
	size_t len_a = 3 << 15, len_b = (3 << 15) - 77;
	const unsigned char *a = data, *b = data + len_a;
	char want_a[STW_DIGEST_LEN + 1], want_b[STW_DIGEST_LEN + 1], got[STW_DIGEST_LEN + 1];

	if (!lanes_here())
		return;
	fill(2);
	CHECK_OK(sha256_digest(want_a, a, len_a));
	CHECK_OK(sha256_digest(want_b, b, len_b));
	for (size_t shift = 0; shift < 10; shift++) {
		struct sha256_lane la, lb;
		size_t at_a = 0, at_b = 0;
		sha256_lane_init(&la);
		sha256_lane_init(&lb);
		for (size_t k = 0; at_a < len_a || at_b < len_b; k++) {
			size_t na = pieces[(k + shift) % 10], nb = pieces[(k * 3 + shift) % 10];
			na = na < len_a - at_a ? na : len_a - at_a;
			nb = nb < len_b - at_b ? nb : len_b - at_b;
			if (k % 5 == 4) /* now and then one lane alone */
				sha256_lane_update(&la, a + at_a, na), nb = 0;
			else
				sha256_lanes_update(&la, a + at_a, na, &lb, b + at_b, nb);
			at_a += na;
			at_b += nb;
		}
		CHECK_EQ_INT(la.bytes, len_a);
		sha256_lane_final(&la, got);
		CHECK_EQ_STR(got, want_a);
		sha256_lane_final(&lb, got);
		CHECK_EQ_STR(got, want_b);
	}
}

int main(void)
{
	return run_tests(TESTS(ENTRY(known_vectors), ENTRY(every_length_and_split), ENTRY(two_lanes)));
}
