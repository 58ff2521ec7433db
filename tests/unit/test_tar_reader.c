/* lib/tar_reader.c, lib/decompress.c and lib/image_view.c: reading pulled
 * layers back, fed in every chunk size, and the view a reader of the image
 * gets (whiteouts, opaque directories, symlinks). */
#include "harness.h"
#include "test_support.h"

#include "compress.h"
#include "decompress.h"
#include "image_view.h"
#include "tar_header.h"
#include "tar_reader.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SEEN 16

struct seen {
	size_t count;
	char path[MAX_SEEN][300], link[MAX_SEEN][300];
	char type[MAX_SEEN];
	unsigned mode[MAX_SEEN];
	uint64_t size[MAX_SEEN];
	unsigned char head[MAX_SEEN][TAR_READ_HEAD];
	size_t head_len[MAX_SEEN];
};

static int remember(void *ctx, const struct tar_read_entry *e)
{
	struct seen *s = ctx;
	size_t i = s->count++;

	CHECK(i < MAX_SEEN);
	snprintf(s->path[i], sizeof(s->path[i]), "%s", e->path);
	snprintf(s->link[i], sizeof(s->link[i]), "%s", e->link);
	s->type[i] = e->type;
	s->mode[i] = e->mode;
	s->size[i] = e->size;
	s->head_len[i] = e->head_len;
	memcpy(s->head[i], e->head, e->head_len);
	return 0;
}

/* Feeds data to a fresh reader in chunks of `chunk` bytes; returns what
 * finishing it returned. */
static int read_in_chunks(struct seen *s, const struct buf *data, size_t chunk)
{
	struct tar_reader r;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	CHECK_OK(tar_reader_init(&r, remember, s, "test layer"));
	for (size_t off = 0; rc == 0 && off < data->len; off += chunk)
		rc = sink_write(&r.base, data->data + off, data->len - off < chunk ? data->len - off : chunk);
	if (rc == 0)
		rc = sink_finish(&r.base);
	tar_reader_release(&r);
	return rc;
}

static char long_name[200], long_link[200];

/* dir, an executable "ELF" file of 700 bytes, a symlink, a PAX long name
 * with a long link, an empty file: as stowage's own writer makes them. */
static void write_archive(struct buf *out)
{
	struct mem_sink m;
	unsigned char content[700];
	struct tar_header h;

	memset(long_name, 'n', sizeof(long_name) - 1);
	memcpy(long_name, "nix/store/", 10);
	memset(long_link, 'l', sizeof(long_link) - 1);
	for (size_t i = 0; i < sizeof(content); i++)
		content[i] = (unsigned char)i;
	memcpy(content, "\177ELF", 4);
	mem_sink_init(&m);
	memset(&h, 0, sizeof(h));
	h.name = "nix", h.type = TAR_DIR, h.mode = 0755;
	CHECK_OK(tar_write_header(&m.base, &h));
	h.name = "nix/prog", h.type = TAR_FILE, h.mode = 04755, h.size = sizeof(content);
	CHECK_OK(tar_write_header(&m.base, &h));
	CHECK_OK(sink_write(&m.base, content, sizeof(content)));
	CHECK_OK(tar_write_padding(&m.base, sizeof(content)));
	h.name = "nix/link", h.type = TAR_SYMLINK, h.mode = 0777, h.size = 0, h.linkname = "prog";
	CHECK_OK(tar_write_header(&m.base, &h));
	h.name = long_name, h.linkname = long_link;
	CHECK_OK(tar_write_header(&m.base, &h));
	h.name = "nix/empty", h.type = TAR_FILE, h.mode = 0644, h.linkname = NULL;
	CHECK_OK(tar_write_header(&m.base, &h));
	CHECK_OK(tar_write_end(&m.base));
	*out = m.data;
}

TEST(reads_own_archive_in_any_chunk_size)
{
	static const size_t chunks[] = { 1, 7, 511, 512, 513, 4096, 1 << 20 };
	struct buf data;
	struct seen s;

	write_archive(&data);
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		CHECK_OK(read_in_chunks(&s, &data, chunks[c]));
		CHECK_EQ_INT(s.count, 5);
		CHECK_EQ_STR(s.path[0], "nix");
		CHECK_EQ_INT(s.type[0], TAR_DIR);
		CHECK_EQ_STR(s.path[1], "nix/prog");
		CHECK_EQ_INT(s.mode[1], 04755);
		CHECK_EQ_INT(s.size[1], 700);
		CHECK_EQ_INT(s.head_len[1], TAR_READ_HEAD);
		CHECK(!memcmp(s.head[1], "\177ELF", 4) && s.head[1][63] == 63);
		CHECK_EQ_STR(s.link[2], "prog");
		CHECK_EQ_INT(s.type[2], TAR_SYMLINK);
		CHECK_EQ_STR(s.path[3], long_name); /* from the PAX record */
		CHECK_EQ_STR(s.link[3], long_link);
		CHECK_EQ_STR(s.path[4], "nix/empty");
		CHECK_EQ_INT(s.head_len[4], 0);
	}
	buf_release(&data);
}

/* A ustar header block written by hand, with a valid checksum. */
static void raw_header(unsigned char b[TAR_BLOCK], const char *name, char type, const char *size_field)
{
	unsigned sum = 0;

	memset(b, 0, TAR_BLOCK);
	memcpy(b, name, strlen(name));
	memcpy(b + 100, "0000755", 7);
	memcpy(b + 124, size_field, strlen(size_field) < 12 ? strlen(size_field) : 12);
	b[156] = (unsigned char)type;
	memcpy(b + 257, "ustar  ", 8); /* GNU magic: no prefix field */
	memset(b + 148, ' ', 8);
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += b[i];
	snprintf((char *)b + 148, 8, "%06o", sum);
}

TEST(gnu_long_name_and_base256_size)
{
	unsigned char block[TAR_BLOCK];
	char name[300];
	struct buf data;
	struct seen s;

	memset(name, 'g', 299);
	name[299] = 0;
	buf_init(&data);
	raw_header(block, "././@LongLink", 'L', "00000000454");
	CHECK_OK(buf_add(&data, block, TAR_BLOCK));
	memset(block, 0, TAR_BLOCK);
	memcpy(block, name, 300); /* 299 bytes + NUL = 0454 */
	CHECK_OK(buf_add(&data, block, TAR_BLOCK));
	CHECK_OK(buf_add(&data, block, TAR_BLOCK)); /* padding for the 300 bytes: one block holds them */
	data.len -= TAR_BLOCK;
	raw_header(block, "short", '0', "");
	/* base-256 size: 3 bytes */
	block[124] = 0x80;
	block[135] = 3;
	{
		unsigned sum = 0;
		memset(block + 148, ' ', 8);
		for (size_t i = 0; i < TAR_BLOCK; i++)
			sum += block[i];
		snprintf((char *)block + 148, 8, "%06o", sum);
	}
	CHECK_OK(buf_add(&data, block, TAR_BLOCK));
	memset(block, 0, TAR_BLOCK);
	memcpy(block, "abc", 3);
	CHECK_OK(buf_add(&data, block, TAR_BLOCK));
	memset(block, 0, TAR_BLOCK);
	CHECK_OK(buf_add(&data, block, TAR_BLOCK));
	CHECK_OK(read_in_chunks(&s, &data, 100));
	CHECK_EQ_INT(s.count, 1);
	CHECK(strlen(s.path[0]) == 299 && s.path[0][0] == 'g');
	CHECK_EQ_INT(s.size[0], 3);
	CHECK(s.head_len[0] == 3 && !memcmp(s.head[0], "abc", 3));
	buf_release(&data);
}

TEST(refuses_damaged_archives)
{
	struct buf data, cut;
	struct seen s;

	write_archive(&data);
	buf_init(&cut);
	CHECK_OK(buf_add(&cut, data.data, 1000)); /* inside prog's content */
	CHECK_FAILS(read_in_chunks(&s, &cut, 4096), "test layer: the tar stream ends inside entry");
	data.data[600] ^= 1; /* in prog's header */
	CHECK_FAILS(read_in_chunks(&s, &data, 4096), "test layer: bad tar header checksum at entry 1");
	buf_release(&data);
	buf_release(&cut);
}

TEST(a_stream_without_end_marker_ends_at_a_header)
{
	struct buf data;
	struct seen s;

	write_archive(&data);
	data.len -= 2 * TAR_BLOCK;
	CHECK_OK(read_in_chunks(&s, &data, 512));
	CHECK_EQ_INT(s.count, 5);
	buf_release(&data);
}

/* compress -> decompress gives the input back, for each algorithm. */
TEST(decompress_round_trip)
{
	static const enum stw_compression kinds[] = { STW_COMPRESSION_NONE, STW_COMPRESSION_GZIP,
						      STW_COMPRESSION_ZSTD };
	struct buf input;

	buf_init(&input);
	for (int i = 0; i < 300000; i++)
		CHECK_OK(buf_addf(&input, "%d,", i * 7));
	for (size_t k = 0; k < 3; k++) {
		struct mem_sink packed, plain;
		struct compress_sink c;
		struct decompress_sink d;

		mem_sink_init(&packed);
		mem_sink_init(&plain);
		CHECK_OK(compress_sink_init(&c, kinds[k], &packed.base));
		CHECK_OK(sink_write(&c.base, input.data, input.len));
		CHECK_OK(sink_finish(&c.base));
		CHECK_OK(decompress_sink_init(&d, kinds[k], "blob", &plain.base));
		for (size_t off = 0; off < packed.data.len; off += 1000)
			CHECK_OK(sink_write(&d.base, packed.data.data + off,
					    packed.data.len - off < 1000 ? packed.data.len - off : 1000));
		CHECK_OK(sink_finish(&d.base));
		CHECK_EQ_INT(plain.data.len, input.len);
		CHECK(!memcmp(plain.data.data, input.data, input.len));
		CHECK_EQ_INT(plain.finished, 1);
		if (kinds[k] != STW_COMPRESSION_NONE) {
			/* cut short: refused at finish */
			decompress_sink_release(&d);
			buf_reset(&plain.data);
			CHECK_OK(decompress_sink_init(&d, kinds[k], "blob", &plain.base));
			CHECK_OK(sink_write(&d.base, packed.data.data, packed.data.len / 2));
			CHECK_FAILS(sink_finish(&d.base), "blob: the compressed stream ends early");
		}
		decompress_sink_release(&d);
		compress_sink_release(&c);
		buf_release(&packed.data);
		buf_release(&plain.data);
	}
	buf_release(&input);
}

TEST(gunzip_reads_several_members_and_refuses_garbage)
{
	struct mem_sink packed, plain;
	struct decompress_sink d;

	mem_sink_init(&packed);
	mem_sink_init(&plain);
	for (int member = 0; member < 2; member++) {
		struct compress_sink c;
		CHECK_OK(compress_sink_init(&c, STW_COMPRESSION_GZIP, &packed.base));
		CHECK_OK(sink_write(&c.base, member ? "world" : "hello ", member ? 5 : 6));
		CHECK_OK(sink_finish(&c.base));
		compress_sink_release(&c);
	}
	CHECK_OK(decompress_sink_init(&d, STW_COMPRESSION_GZIP, "blob", &plain.base));
	CHECK_OK(sink_write(&d.base, packed.data.data, packed.data.len));
	CHECK_OK(sink_finish(&d.base));
	CHECK(plain.data.len == 11 && !memcmp(plain.data.data, "hello world", 11));
	decompress_sink_release(&d);
	CHECK_OK(decompress_sink_init(&d, STW_COMPRESSION_GZIP, "blob", &plain.base));
	CHECK_FAILS(sink_write(&d.base, "not gzip at all", 15), "blob: not valid gzip data");
	decompress_sink_release(&d);
	CHECK_OK(decompress_sink_init(&d, STW_COMPRESSION_ZSTD, "blob", &plain.base));
	CHECK_FAILS(sink_write(&d.base, "not zstd at all", 15), "blob: not valid zstd data");
	decompress_sink_release(&d);
	buf_release(&packed.data);
	buf_release(&plain.data);
}

static void add(struct image_view *v, const char *path, enum tar_type type, const char *link, size_t layer)
{
	struct view_entry e = { .path = (char *)path, .link = (char *)link, .type = type, .mode = 0755, .layer = layer };
	CHECK_OK(image_view_add(v, &e));
}

TEST(view_applies_whiteouts_and_follows_links)
{
	struct image_view v;
	const struct view_entry *e;
	char *path = NULL;

	image_view_init(&v);
	add(&v, "bin", TAR_DIR, NULL, 0);
	add(&v, "bin/a", TAR_FILE, NULL, 0);
	add(&v, "bin/b", TAR_FILE, NULL, 0);
	add(&v, "opt", TAR_DIR, NULL, 0);
	add(&v, "opt/x", TAR_FILE, NULL, 0);
	add(&v, "opt/sub", TAR_DIR, NULL, 0);
	add(&v, "opt/sub/y", TAR_FILE, NULL, 0);
	add(&v, "usr", TAR_SYMLINK, "opt", 0);
	CHECK_OK(image_view_resolve(&path, &e, &v, "/usr/sub/../x"));
	CHECK_EQ_STR(path, "/opt/x");
	free(path);
	/* layer 1: bin/a whited out, opt made opaque, opt/z added */
	{
		const char *paths[] = { "bin/a", "opt" };
		const int opaque[] = { 0, 1 };
		CHECK_OK(image_view_whiteouts(&v, paths, opaque, 2, 1));
	}
	add(&v, "opt/z", TAR_FILE, NULL, 1);
	CHECK(!image_view_get(&v, "bin/a"));
	CHECK(image_view_get(&v, "bin/b"));
	CHECK(image_view_get(&v, "opt"));
	CHECK(!image_view_get(&v, "opt/x") && !image_view_get(&v, "opt/sub/y"));
	CHECK(image_view_get(&v, "opt/z"));
	CHECK_FAILS(image_view_resolve(&path, &e, &v, "/usr/x"), "'/opt/x' is not in the image");
	/* layer 2 brings bin/a back */
	add(&v, "bin/a", TAR_FILE, NULL, 2);
	CHECK(image_view_get(&v, "bin/a") && image_view_get(&v, "bin/a")->layer == 2);
	/* a whiteout never hides its own layer's entries */
	{
		const char *same_layer = "bin/a";
		const int opaque = 0;
		CHECK_OK(image_view_whiteouts(&v, &same_layer, &opaque, 1, 2));
	}
	CHECK(image_view_get(&v, "bin/a"));
	image_view_release(&v);
}

int main(void)
{
	return run_tests(TESTS(ENTRY(reads_own_archive_in_any_chunk_size), ENTRY(gnu_long_name_and_base256_size),
			       ENTRY(refuses_damaged_archives), ENTRY(a_stream_without_end_marker_ends_at_a_header),
			       ENTRY(decompress_round_trip), ENTRY(gunzip_reads_several_members_and_refuses_garbage),
			       ENTRY(view_applies_whiteouts_and_follows_links)));
}
