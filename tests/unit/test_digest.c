/* SHA-256 (lib/digest.h), the sinks that carry it (lib/sink.h) and the
 * byte buffer under both (lib/buf.h). */
#include "harness.h"
#include "test_support.h"

#include "buf.h"
#include "digest.h"
#include "sink.h"

/* FIPS 180-2 test vectors */
#define SHA_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_448 "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA_MILLION_A "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

TEST(known_vectors)
{
	char out[STW_DIGEST_LEN + 1];

	CHECK_OK(sha256_digest(out, "abc", 3));
	CHECK_EQ_STR(out, SHA_ABC);
	CHECK_OK(sha256_digest(out, "", 0));
	CHECK_EQ_STR(out, SHA_EMPTY);
	CHECK_OK(sha256_digest(out, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56));
	CHECK_EQ_STR(out, SHA_448);
	CHECK_EQ_INT(strlen(out), STW_DIGEST_LEN);
}

TEST(streaming_and_reset)
{
	struct sha256 h;
	char out[STW_DIGEST_LEN + 1];
	char a[1000];

	memset(a, 'a', sizeof(a));
	CHECK_OK(sha256_init(&h));
	for (int i = 0; i < 1000; i++)
		CHECK_OK(sha256_update(&h, a, sizeof(a)));
	CHECK_OK(sha256_final(&h, out));
	CHECK_EQ_STR(out, SHA_MILLION_A);
	/* final resets: the context hashes a new message */
	CHECK_OK(sha256_update(&h, "a", 1));
	CHECK_OK(sha256_update(&h, NULL, 0));
	CHECK_OK(sha256_update(&h, "bc", 2));
	CHECK_OK(sha256_final(&h, out));
	CHECK_EQ_STR(out, SHA_ABC);
	sha256_release(&h);
	sha256_release(&h); /* twice is harmless */
}

TEST(digest_syntax)
{
	CHECK(digest_is_valid(SHA_ABC));
	CHECK(!digest_is_valid(NULL));
	CHECK(!digest_is_valid(""));
	CHECK(!digest_is_valid("sha256:"));
	CHECK(!digest_is_valid("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	CHECK(!digest_is_valid("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	CHECK(!digest_is_valid(SHA_ABC "0"));
	CHECK(!digest_is_valid("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a"));
	CHECK(!digest_is_valid("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ag"));
	CHECK(!digest_is_valid("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

TEST(hash_sink_counts_and_forwards)
{
	struct mem_sink m;
	struct hash_sink h;

	mem_sink_init(&m);
	CHECK_OK(hash_sink_init(&h, &m.base));
	CHECK_OK(sink_write(&h.base, "a", 1));
	CHECK_OK(sink_write(&h.base, "bc", 2));
	CHECK_OK(sink_finish(&h.base));
	CHECK_EQ_STR(h.digest, SHA_ABC);
	CHECK_EQ_INT(h.bytes, 3);
	CHECK_EQ_STR(m.data.data, "abc");
	CHECK_EQ_INT(m.finished, 1);
	hash_sink_release(&h);
	buf_release(&m.data);
	/* the end of a chain */
	CHECK_OK(hash_sink_init(&h, NULL));
	CHECK_OK(sink_finish(&h.base));
	CHECK_EQ_STR(h.digest, SHA_EMPTY);
	hash_sink_release(&h);
}

TEST(limit_sink)
{
	struct mem_sink m;
	struct limit_sink l;

	mem_sink_init(&m);
	limit_sink_init(&l, 4, "layer x", &m.base);
	CHECK_OK(sink_write(&l.base, "ab", 2));
	CHECK_OK(sink_write(&l.base, "cd", 2));
	CHECK_FAILS(sink_write(&l.base, "e", 1), "layer x is larger than recorded (4 bytes)");
	CHECK_OK(sink_finish(&l.base));
	CHECK_EQ_STR(m.data.data, "abcd");
	limit_sink_init(&l, 4, "layer y", &m.base);
	CHECK_OK(sink_write(&l.base, "abc", 3));
	CHECK_FAILS(sink_finish(&l.base), "layer y is smaller than recorded (3 of 4 bytes)");
	limit_sink_init(&l, 2, "layer z", &m.base);
	CHECK_FAILS(sink_write(&l.base, "abc", 3), "larger than recorded"); /* nothing passed on */
	CHECK_EQ_INT(l.bytes, 0);
	buf_release(&m.data);
}

TEST(fd_sink_writes_everything)
{
	char path[4400];
	struct fd_sink f;
	struct buf back;
	char *big = malloc(600 * 1024);
	int fd;

	CHECK(big);
	for (size_t i = 0; i < 600 * 1024; i++)
		big[i] = (char)(i % 253);
	snprintf(path, sizeof(path), "%s/out", scratch_dir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_OK(fd_sink_init(&f, fd, path));
	CHECK_OK(sink_write(&f.base, "head", 4));
	CHECK_OK(sink_write(&f.base, big, 600 * 1024)); /* larger than the buffer */
	for (int i = 0; i < 1000; i++)
		CHECK_OK(sink_write(&f.base, big, 1000));
	CHECK_OK(sink_finish(&f.base));
	fd_sink_release(&f);
	close(fd);
	buf_init(&back);
	CHECK_OK(buf_read_file(&back, path, 10 << 20));
	CHECK_EQ_INT(back.len, 4 + 600 * 1024 + 1000 * 1000);
	CHECK(!memcmp(back.data, "head", 4));
	CHECK(!memcmp(back.data + 4, big, 600 * 1024));
	for (int i = 0; i < 1000; i++)
		CHECK(!memcmp(back.data + 4 + 600 * 1024 + i * 1000, big, 1000));
	buf_release(&back);

	/* a write error names the file */
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_OK(fd_sink_init(&f, fd, "read-only.tar"));
	CHECK_OK(sink_write(&f.base, "x", 1));
	CHECK_FAILS(sink_finish(&f.base), "cannot write 'read-only.tar'");
	fd_sink_release(&f);
	close(fd);
	free(big);
}

TEST(buf_invariants)
{
	struct buf b;
	char *detached;
	size_t len;

	buf_init(&b);
	CHECK(b.data && b.data[0] == 0 && b.len == 0);
	CHECK_OK(buf_adds(&b, "stow"));
	CHECK_OK(buf_addch(&b, 'a'));
	CHECK_OK(buf_addf(&b, "%s-%03d", "ge", 7));
	CHECK_EQ_STR(b.data, "stowage-007");
	CHECK_EQ_INT(b.len, 11);
	buf_reset(&b);
	CHECK_EQ_STR(b.data, "");
	CHECK_OK(buf_add(&b, "a\0b", 3));
	CHECK_EQ_INT(b.len, 3);
	CHECK_EQ_INT(b.data[3], 0);
	detached = buf_detach(&b, &len);
	CHECK_EQ_INT(len, 3);
	CHECK(!memcmp(detached, "a\0b", 4));
	free(detached);
	CHECK(b.data && b.len == 0 && b.data[0] == 0);
	detached = buf_detach(&b, NULL); /* an empty buffer detaches a string too */
	CHECK_EQ_STR(detached, "");
	free(detached);
	buf_release(&b);
	buf_release(&b);
	buf_reset(&b); /* on the shared empty string: must not write to it */
	CHECK_EQ_STR(b.data, "");
	for (int i = 0; i < 10000; i++)
		CHECK_OK(buf_addf(&b, "%d,", i % 10));
	CHECK_EQ_INT(b.len, 20000);
	CHECK_FAILS(buf_grow(&b, SIZE_MAX - 5), "buffer size overflow");
	buf_release(&b);
}

TEST(buf_read_limits)
{
	char path[4400];
	struct buf b;

	snprintf(path, sizeof(path), "%s/f", scratch_dir());
	make_file(path, "0123456789", 10, 0644);
	buf_init(&b);
	CHECK_OK(buf_read_file(&b, path, 10));
	CHECK_EQ_STR(b.data, "0123456789");
	buf_release(&b);
	CHECK_FAILS(buf_read_file(&b, path, 9), "input larger than 9 bytes");
	CHECK(strstr(stw_error_last(), path));
	buf_release(&b);
	snprintf(path, sizeof(path), "%s/none", scratch_dir());
	CHECK_FAILS(buf_read_file(&b, path, 9), "cannot open");
	buf_release(&b);
}

int main(void)
{
	return run_tests(TESTS(ENTRY(known_vectors), ENTRY(streaming_and_reset), ENTRY(digest_syntax),
			       ENTRY(hash_sink_counts_and_forwards), ENTRY(limit_sink),
			       ENTRY(fd_sink_writes_everything), ENTRY(buf_invariants), ENTRY(buf_read_limits)));
}
