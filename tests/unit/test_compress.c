/* Layer compression (lib/compress.h): the pinned gzip header, output that
 * zlib and zstd decompress back to the input, and bytes that depend only
 * on the input, not on how it was cut into writes. */
#include "harness.h"
#include "test_support.h"

#include "buf.h"
#include "compress.h"

#include <zlib.h>
#include <zstd.h>

/* Compresses input written in pieces of `piece` bytes (0: one write). */
static void compress_all(struct buf *out, enum stw_compression kind, const unsigned char *input, size_t len,
		     size_t piece)
{
	struct mem_sink m;
	struct compress_sink c;

	mem_sink_init(&m);
	CHECK_OK(compress_sink_init(&c, kind, &m.base));
	for (size_t at = 0; at < len;) {
		size_t n = piece && len - at > piece ? piece : len - at;
		CHECK_OK(sink_write(&c.base, input + at, n));
		at += n;
	}
	CHECK_OK(sink_finish(&c.base));
	CHECK_EQ_INT(m.finished, 1); /* finishing passes down the chain */
	compress_sink_release(&c);
	*out = m.data;
}

/* ~400 KB: text-like runs and a quarter of noise, more than one output
 * buffer. */
static unsigned char *sample(size_t *len)
{
	size_t n = 400 * 1024 + 77;
	unsigned char *p = malloc(n);
	uint32_t x = 12345;

	CHECK(p);
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		p[i] = (i / 4096) % 4 == 0 ? (unsigned char)(x >> 24) : (unsigned char)("stowage layer "[i % 14]);
	}
	*len = n;
	return p;
}

static void gunzip(struct buf *out, const struct buf *in)
{
	z_stream z;
	unsigned char chunk[65536];
	int rc;

	memset(&z, 0, sizeof(z));
	CHECK_EQ_INT(inflateInit2(&z, 15 + 16), Z_OK); /* gzip only */
	z.next_in = (unsigned char *)in->data;
	z.avail_in = (uInt)in->len;
	buf_init(out);
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		CHECK(rc == Z_OK || rc == Z_STREAM_END);
		CHECK_OK(buf_add(out, chunk, sizeof(chunk) - z.avail_out));
	} while (rc != Z_STREAM_END);
	CHECK_EQ_INT(z.avail_in, 0); /* one member, nothing after it */
	inflateEnd(&z);
}

TEST(gzip_header_and_round_trip)
{
	size_t len;
	unsigned char *input = sample(&len);
	struct buf gz, back;
	const unsigned char *b;

	compress_all(&gz, STW_COMPRESSION_GZIP, input, len, 0);
	b = (const unsigned char *)gz.data;
	/* magic, deflate, no flags (no name), mtime 0, xfl 0, OS 255 */
	CHECK(!memcmp(b, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10));
	CHECK(gz.len < len / 2);
	/* trailer: CRC-32 and size, little-endian */
	{
		uint32_t crc = (uint32_t)crc32(0, input, (uInt)len), isize = (uint32_t)len;
		const unsigned char *t = b + gz.len - 8;
		CHECK_EQ_INT(t[0] | t[1] << 8 | t[2] << 16 | (uint32_t)t[3] << 24, crc);
		CHECK_EQ_INT(t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24, isize);
	}
	gunzip(&back, &gz);
	CHECK_EQ_INT(back.len, len);
	CHECK(!memcmp(back.data, input, len));
	buf_release(&back);
	buf_release(&gz);
	free(input);
}

TEST(gzip_of_nothing)
{
	struct buf gz, back;

	compress_all(&gz, STW_COMPRESSION_GZIP, (const unsigned char *)"", 0, 0);
	CHECK_EQ_INT(gz.len, 20); /* header, an empty final block, trailer */
	CHECK(!memcmp(gz.data, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x03\x00", 12));
	gunzip(&back, &gz);
	CHECK_EQ_INT(back.len, 0);
	buf_release(&back);
	buf_release(&gz);
}

TEST(zstd_frame_and_round_trip)
{
	size_t len, got;
	unsigned char *input = sample(&len), *back = malloc(len + 1);
	struct buf zst;
	unsigned long long content;

	CHECK(back);
	compress_all(&zst, STW_COMPRESSION_ZSTD, input, len, 0);
	CHECK(!memcmp(zst.data, "\x28\xb5\x2f\xfd", 4)); /* magic */
	CHECK(zst.len < len / 2);
	content = ZSTD_getFrameContentSize(zst.data, zst.len);
	CHECK(content == ZSTD_CONTENTSIZE_UNKNOWN); /* not written: streams have no known size */
	CHECK_EQ_INT((unsigned char)zst.data[4] & 0x04, 0); /* no checksum */
	CHECK_EQ_INT(ZSTD_findFrameCompressedSize(zst.data, zst.len), zst.len); /* one frame */
	got = ZSTD_decompress(back, len + 1, zst.data, zst.len);
	CHECK(!ZSTD_isError(got));
	CHECK_EQ_INT(got, len);
	CHECK(!memcmp(back, input, len));
	buf_release(&zst);
	free(back);
	free(input);
}

TEST(none_forwards)
{
	struct buf out;
	compress_all(&out, STW_COMPRESSION_NONE, (const unsigned char *)"plain", 5, 2);
	CHECK_EQ_INT(out.len, 5);
	CHECK(!memcmp(out.data, "plain", 5));
	buf_release(&out);
}

/* The tar writer's chunking is an implementation detail: cutting the same
 * stream into other writes must not change the compressed bytes (or the
 * layer digest would depend on READ_CHUNK and on header sizes). */
TEST(output_independent_of_write_sizes)
{
	static const size_t pieces[] = { 1, 511, 512, 4096, 100000, 128 * 1024, 128 * 1024 + 1 };
	size_t len;
	unsigned char *input = sample(&len);

	for (int kind = STW_COMPRESSION_GZIP; kind <= STW_COMPRESSION_ZSTD; kind++) {
		struct buf whole;
		compress_all(&whole, (enum stw_compression)kind, input, len, 0);
		for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
			struct buf cut;
			compress_all(&cut, (enum stw_compression)kind, input, len, pieces[i]);
			if (cut.len != whole.len || memcmp(cut.data, whole.data, cut.len))
				test_note("%s differs when written in pieces of %zu",
				       stw_compression_name((enum stw_compression)kind), pieces[i]);
			CHECK(cut.len == whole.len && !memcmp(cut.data, whole.data, cut.len));
			buf_release(&cut);
		}
		buf_release(&whole);
	}
	free(input);
}

int main(void)
{
	return run_tests(TESTS(ENTRY(gzip_header_and_round_trip), ENTRY(gzip_of_nothing),
			       ENTRY(zstd_frame_and_round_trip), ENTRY(none_forwards),
			       ENTRY(output_independent_of_write_sizes)));
}
