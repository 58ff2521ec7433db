/* The tar header byte format (lib/tar_header.h): exact ustar bytes, PAX
 * records only where ustar cannot hold a value, and archives that GNU tar
 * and Python's tarfile read back as written. */
#include "harness.h"
#include "test_support.h"

#include "buf.h"
#include "tar_header.h"

#include <stdint.h>

/* The ustar block we expect, built field by field from POSIX's layout
 * rather than through the code under test. */
struct expect {
	const char *name, *linkname, *uname;
	char type;
	const char *mode, *uid, *gid, *size, *mtime, *devmajor, *devminor; /* octal text */
};

static void expected_block(unsigned char block[512], const struct expect *e)
{
	unsigned sum = 0;
	char checksum[8];

	memset(block, 0, 512);
	memcpy(block, e->name, strlen(e->name) < 100 ? strlen(e->name) : 100);
	memcpy(block + 100, e->mode, 8);
	memcpy(block + 108, e->uid, 8);
	memcpy(block + 116, e->gid, 8);
	memcpy(block + 124, e->size, 12);
	memcpy(block + 136, e->mtime, 12);
	block[156] = (unsigned char)e->type;
	if (e->linkname)
		memcpy(block + 157, e->linkname, strlen(e->linkname) < 100 ? strlen(e->linkname) : 100);
	memcpy(block + 257, "ustar\0" "00", 8);
	memcpy(block + 265, e->uname, strlen(e->uname));
	memcpy(block + 297, e->uname, strlen(e->uname));
	memcpy(block + 329, e->devmajor ? e->devmajor : "0000000", 8);
	memcpy(block + 337, e->devminor ? e->devminor : "0000000", 8);
	memset(block + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += block[i];
	snprintf(checksum, sizeof(checksum), "%06o", sum);
	memcpy(block + 148, checksum, 7); /* six digits and a NUL */
	block[155] = ' ';
}

/* Writes h into memory; checks the stream is exactly what
 * tar_header_size promised. */
static void write_header(struct mem_sink *m, const struct tar_header *h)
{
	mem_sink_init(m);
	CHECK_OK(tar_write_header(&m->base, h));
	CHECK_EQ_INT(m->data.len, tar_header_size(h));
	CHECK_EQ_INT(m->data.len % 512, 0);
}

static void check_block(const unsigned char *got, const struct expect *e)
{
	unsigned char want[512];
	expected_block(want, e);
	for (int i = 0; i < 512; i++)
		if (got[i] != want[i]) {
			test_note("byte %d: got 0x%02x, want 0x%02x", i, got[i], want[i]);
			CHECK(!"header bytes differ");
		}
}

TEST(file_header_bytes)
{
	struct tar_header h = { .name = "nix/store/abc-hello/bin/hello", .type = TAR_FILE, .mode = 0755,
				.size = 5, .mtime = STW_TAR_MTIME };
	struct expect e = { .name = "nix/store/abc-hello/bin/hello", .uname = "root", .type = '0',
			    .mode = "0000755", .uid = "0000000", .gid = "0000000",
			    .size = "00000000005", .mtime = "00000000001" };
	struct mem_sink m;

	write_header(&m, &h);
	CHECK_EQ_INT(m.data.len, 512);
	check_block((unsigned char *)m.data.data, &e);
	/* the checksum as a literal too: Python's tarfile gives 015132 for this
	 * header, whose devmajor/devminor it leaves empty; our two "0000000"
	 * fields add 2 * 7 * '0' = 672 = 01240 */
	CHECK(!memcmp(m.data.data + 148, "016372\0 ", 8));
	buf_release(&m.data);
}

TEST(directory_gets_trailing_slash)
{
	struct tar_header h = { .name = "nix/store", .type = TAR_DIR, .mode = 0755, .mtime = STW_TAR_MTIME };
	struct expect e = { .name = "nix/store/", .uname = "root", .type = '5', .mode = "0000755",
			    .uid = "0000000", .gid = "0000000", .size = "00000000000", .mtime = "00000000001" };
	struct mem_sink m;

	write_header(&m, &h);
	check_block((unsigned char *)m.data.data, &e);
	buf_release(&m.data);
}

TEST(symlink_and_sticky_and_owner)
{
	struct tar_header h = { .name = "bin/sh", .linkname = "/nix/store/abc-bash/bin/bash",
				.type = TAR_SYMLINK, .mode = 0777, .uid = 1000, .gid = 100,
				.mtime = STW_TAR_MTIME };
	struct expect e = { .name = "bin/sh", .linkname = "/nix/store/abc-bash/bin/bash", .uname = "",
			    .type = '2', .mode = "0000777", .uid = "0001750", .gid = "0000144",
			    .size = "00000000000", .mtime = "00000000001" };
	struct tar_header d = { .name = "tmp", .type = TAR_DIR, .mode = 01777, .mtime = STW_TAR_MTIME };
	struct expect de = { .name = "tmp/", .uname = "root", .type = '5', .mode = "0001777",
			     .uid = "0000000", .gid = "0000000", .size = "00000000000", .mtime = "00000000001" };
	struct mem_sink m;

	write_header(&m, &h);
	check_block((unsigned char *)m.data.data, &e);
	buf_release(&m.data);
	write_header(&m, &d);
	check_block((unsigned char *)m.data.data, &de);
	buf_release(&m.data);
}

TEST(device_numbers)
{
	struct tar_header h = { .name = "dev/null", .type = TAR_CHAR, .mode = 0666, .devmajor = 1,
				.devminor = 3, .mtime = STW_TAR_MTIME };
	struct expect e = { .name = "dev/null", .uname = "root", .type = '3', .mode = "0000666",
			    .uid = "0000000", .gid = "0000000", .size = "00000000000", .mtime = "00000000001",
			    .devmajor = "0000001", .devminor = "0000003" };
	struct mem_sink m;

	write_header(&m, &h);
	check_block((unsigned char *)m.data.data, &e);
	buf_release(&m.data);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	CHECK(s);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

/* The PAX records of a header written with h ("" when none). */
static void pax_of(struct buf *records, const struct tar_header *h)
{
	struct mem_sink m;
	uint64_t size;

	buf_init(records);
	write_header(&m, h);
	if (m.data.len == 512) {
		buf_release(&m.data);
		return;
	}
	CHECK(!memcmp(m.data.data, "././@PaxHeader", 15));
	CHECK_EQ_INT(m.data.data[156], 'x');
	size = strtoull(m.data.data + 124, NULL, 8);
	CHECK(size > 0 && 512 + size <= m.data.len - 512);
	CHECK_OK(buf_add(records, m.data.data + 512, (size_t)size));
	buf_release(&m.data);
}

TEST(pax_only_when_ustar_cannot_hold_it)
{
	char *n100 = repeat('a', 100), *n101 = repeat('b', 101), *d99 = repeat('c', 99);
	char *d100 = repeat('d', 100);
	struct buf pax;
	struct {
		struct tar_header h;
		const char *records; /* NULL: none expected */
	} cases[] = {
		{ { .name = n100, .type = TAR_FILE, .mode = 0644 }, NULL },
		{ { .name = d99, .type = TAR_DIR, .mode = 0755 }, NULL }, /* 99 + '/' fits */
		{ { .name = "l", .linkname = n100, .type = TAR_SYMLINK, .mode = 0777 }, NULL },
		{ { .name = "f", .type = TAR_FILE, .size = 077777777777ULL }, NULL },
		{ { .name = "f", .type = TAR_FILE, .uid = 07777777, .gid = 07777777 }, NULL },
		{ { .name = "f", .type = TAR_FILE, .size = 8ULL << 30 }, "19 size=8589934592\n" },
		{ { .name = "f", .type = TAR_FILE, .uid = 07777777 + 1 }, "15 uid=2097152\n" },
		{ { .name = "f", .type = TAR_FILE, .gid = 4294967294ULL }, "18 gid=4294967294\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pax_of(&pax, &cases[i].h);
		if (!cases[i].records)
			CHECK_EQ_INT(pax.len, 0);
		else
			CHECK_EQ_STR(pax.data, cases[i].records);
		buf_release(&pax);
	}
	{ /* name of 101 bytes */
		struct tar_header h = { .name = n101, .type = TAR_FILE, .mode = 0644 };
		char want[200];
		snprintf(want, sizeof(want), "111 path=%s\n", n101);
		pax_of(&pax, &h);
		CHECK_EQ_STR(pax.data, want);
		buf_release(&pax);
	}
	{ /* directory of 100 bytes: 101 with its '/' */
		struct tar_header h = { .name = d100, .type = TAR_DIR, .mode = 0755 };
		char want[200];
		snprintf(want, sizeof(want), "111 path=%s/\n", d100);
		pax_of(&pax, &h);
		CHECK_EQ_STR(pax.data, want);
		buf_release(&pax);
	}
	{ /* everything at once, in the documented order */
		struct tar_header h = { .name = n101, .linkname = n101, .type = TAR_SYMLINK,
					.uid = 1ULL << 32, .gid = 1ULL << 33 };
		char want[400];
		snprintf(want, sizeof(want), "111 path=%s\n115 linkpath=%s\n18 uid=4294967296\n"
			 "18 gid=8589934592\n", n101, n101);
		pax_of(&pax, &h);
		CHECK_EQ_STR(pax.data, want);
		buf_release(&pax);
	}
	free(n100);
	free(n101);
	free(d99);
	free(d100);
}

/* A record's length counts its own digits: a 989-byte path makes a
 * 999-byte record, a 990-byte one a 1001-byte record (1000 would need a
 * fourth digit, which makes it 1001). Path records are at least 111 bytes,
 * so the 99 -> 100 step cannot occur; this is the next one. */
TEST(pax_record_length_counts_itself)
{
	for (size_t n = 985; n <= 995; n++) {
		char *name = repeat('p', n), digits[16];
		struct tar_header h = { .name = name, .type = TAR_FILE, .mode = 0644 };
		struct buf pax;
		size_t want = n + 7 + (n + 7 + 3 <= 999 ? 3 : 4);
		pax_of(&pax, &h);
		snprintf(digits, sizeof(digits), "%zu ", want);
		CHECK_EQ_INT(pax.len, want);
		CHECK(!strncmp(pax.data, digits, strlen(digits)));
		CHECK(!strncmp(pax.data + strlen(digits), "path=", 5));
		CHECK_EQ_INT(pax.data[pax.len - 1], '\n');
		if (n == 989)
			CHECK_EQ_INT(pax.len, 999);
		if (n == 990)
			CHECK_EQ_INT(pax.len, 1001);
		buf_release(&pax);
		free(name);
	}
}

TEST(pax_header_block_bytes)
{
	char *name = repeat('n', 120);
	struct tar_header h = { .name = name, .type = TAR_FILE, .mode = 0644, .size = 3,
				.mtime = STW_TAR_MTIME };
	struct expect pe = { .name = "././@PaxHeader", .uname = "", .type = 'x', .mode = "0000644",
			     .uid = "0000000", .gid = "0000000", .size = "00000000202", /* 130 */
			     .mtime = "00000000001" };
	struct expect e = { .name = name, .uname = "root", .type = '0', .mode = "0000644",
			    .uid = "0000000", .gid = "0000000", .size = "00000000003", .mtime = "00000000001" };
	struct mem_sink m;

	write_header(&m, &h);
	CHECK_EQ_INT(m.data.len, 3 * 512);
	check_block((unsigned char *)m.data.data, &pe);
	CHECK(!memcmp(m.data.data + 512, "130 path=nnn", 12));
	for (size_t i = 512 + 130; i < 1024; i++)
		CHECK_EQ_INT(m.data.data[i], 0);
	check_block((unsigned char *)m.data.data + 1024, &e); /* name truncated to 100 */
	buf_release(&m.data);
	free(name);
}

TEST(header_size_matches_for_pax_multiple_of_block)
{
	/* a path record of exactly 512 bytes: body 507 + 3 digits + 2 = 512 */
	char *name = repeat('q', 512 - 3 - 7);
	struct tar_header h = { .name = name, .type = TAR_FILE };
	struct mem_sink m;

	write_header(&m, &h);
	CHECK_EQ_INT(m.data.len, 3 * 512);
	CHECK(!memcmp(m.data.data + 512, "512 path=", 9));
	buf_release(&m.data);
	free(name);
}

TEST(padding_and_end)
{
	struct mem_sink m;

	mem_sink_init(&m);
	CHECK_OK(tar_write_padding(&m.base, 0));
	CHECK_EQ_INT(m.data.len, 0);
	CHECK_OK(tar_write_padding(&m.base, 1));
	CHECK_EQ_INT(m.data.len, 511);
	CHECK_OK(tar_write_padding(&m.base, 512));
	CHECK_EQ_INT(m.data.len, 511);
	CHECK_OK(tar_write_padding(&m.base, 1025));
	CHECK_EQ_INT(m.data.len, 511 + 511);
	buf_reset(&m.data);
	CHECK_OK(tar_write_end(&m.base));
	CHECK_EQ_INT(m.data.len, 1024);
	for (size_t i = 0; i < 1024; i++)
		CHECK_EQ_INT(m.data.data[i], 0);
	buf_release(&m.data);
}

static void add_member(struct mem_sink *m, const struct tar_header *h, const char *data)
{
	CHECK_OK(tar_write_header(&m->base, h));
	if (h->type == TAR_FILE) {
		CHECK_EQ_INT(strlen(data), h->size);
		CHECK_OK(sink_write(&m->base, data, h->size));
		CHECK_OK(tar_write_padding(&m->base, h->size));
	}
}

/* A small archive read back by independent readers. */
TEST(archive_read_by_python_and_gnu_tar)
{
	char *long_name = repeat('L', 150), *long_link = repeat('T', 130);
	char *long_path = malloc(200);
	struct tar_header members[] = {
		{ .name = "nix", .type = TAR_DIR, .mode = 0755, .mtime = STW_TAR_MTIME },
		{ .name = "nix/store", .type = TAR_DIR, .mode = 0755, .mtime = STW_TAR_MTIME },
		{ .name = "nix/store/x-a", .type = TAR_FILE, .mode = 0644, .size = 11, .mtime = STW_TAR_MTIME },
		{ .name = "nix/store/x-b", .type = TAR_FILE, .mode = 04755, .size = 600,
		  .mtime = STW_TAR_MTIME },
		{ .name = "nix/store/x-l", .linkname = "x-a", .type = TAR_SYMLINK, .mode = 0777,
		  .mtime = STW_TAR_MTIME },
		{ .name = NULL, .type = TAR_FILE, .mode = 0600, .size = 4, .mtime = STW_TAR_MTIME },
		{ .name = "nix/store/x-ll", .linkname = long_link, .type = TAR_SYMLINK, .mode = 0777,
		  .mtime = STW_TAR_MTIME },
		{ .name = "tmp", .type = TAR_DIR, .mode = 01777, .mtime = STW_TAR_MTIME },
		{ .name = "home/u", .type = TAR_DIR, .mode = 0700, .uid = 1000, .gid = 1000,
		  .mtime = STW_TAR_MTIME },
		{ .name = "home/big", .type = TAR_FILE, .mode = 0644, .uid = 3000000, .gid = 5,
		  .size = 0, .mtime = STW_TAR_MTIME },
		{ .name = "dev/null", .type = TAR_CHAR, .mode = 0666, .devmajor = 1, .devminor = 3,
		  .mtime = STW_TAR_MTIME },
		{ .name = "run/fifo", .type = TAR_FIFO, .mode = 0600, .mtime = STW_TAR_MTIME },
	};
	char *six_hundred = repeat('6', 600);
	const char *data[] = { NULL, NULL, "hello world", six_hundred, NULL, "long", NULL, NULL, NULL, "",
			       NULL, NULL };
	char path[4200], command[8600];
	struct mem_sink m;
	struct buf listing, expected;
	int fd;

	CHECK(long_path);
	snprintf(long_path, 200, "nix/store/x-%s", long_name);
	members[5].name = long_path;
	mem_sink_init(&m);
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		add_member(&m, &members[i], data[i]);
	CHECK_OK(tar_write_end(&m.base));
	snprintf(path, sizeof(path), "%s/a.tar", scratch_dir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, m.data.data, m.data.len), m.data.len);
	close(fd);

	snprintf(command, sizeof(command),
		 "python3 -c 'import sys, tarfile\n"
		 "for t in tarfile.open(sys.argv[1], \"r:\"):\n"
		 "    print(t.name, oct(t.mode), t.type.decode(), t.size, t.uid, t.gid, t.mtime,\n"
		 "          t.uname or \"-\", t.gname or \"-\", t.linkname or \"-\", t.devmajor, t.devminor,\n"
		 "          sorted(t.pax_headers))' '%s'", path);
	run_capture(&listing, command);
	buf_init(&expected);
	buf_addf(&expected, "nix 0o755 5 0 0 0 1 root root - 0 0 []\n"
			    "nix/store 0o755 5 0 0 0 1 root root - 0 0 []\n"
			    "nix/store/x-a 0o644 0 11 0 0 1 root root - 0 0 []\n"
			    "nix/store/x-b 0o4755 0 600 0 0 1 root root - 0 0 []\n"
			    "nix/store/x-l 0o777 2 0 0 0 1 root root x-a 0 0 []\n"
			    "%s 0o600 0 4 0 0 1 root root - 0 0 ['path']\n"
			    "nix/store/x-ll 0o777 2 0 0 0 1 root root %s 0 0 ['linkpath']\n"
			    "tmp 0o1777 5 0 0 0 1 root root - 0 0 []\n"
			    "home/u 0o700 5 0 1000 1000 1 - - - 0 0 []\n"
			    "home/big 0o644 0 0 3000000 5 1 - - - 0 0 ['uid']\n"
			    "dev/null 0o666 3 0 0 0 1 root root - 1 3 []\n"
			    "run/fifo 0o600 6 0 0 0 1 root root - 0 0 []\n",
		 long_path, long_link);
	CHECK_EQ_STR(listing.data, expected.data);
	buf_release(&listing);
	buf_release(&expected);

	/* GNU tar: names, types, modes, owners and sizes; TZ pinned for the date */
	snprintf(command, sizeof(command),
		 "TZ=UTC tar --numeric-owner -tvf '%s' | awk '{print $1, $2, $3, $4, $5, $6}'", path);
	run_capture(&listing, command);
	buf_init(&expected);
	buf_addf(&expected, "drwxr-xr-x 0/0 0 1970-01-01 00:00 nix/\n"
			    "drwxr-xr-x 0/0 0 1970-01-01 00:00 nix/store/\n"
			    "-rw-r--r-- 0/0 11 1970-01-01 00:00 nix/store/x-a\n"
			    "-rwsr-xr-x 0/0 600 1970-01-01 00:00 nix/store/x-b\n"
			    "lrwxrwxrwx 0/0 0 1970-01-01 00:00 nix/store/x-l\n"
			    "-rw------- 0/0 4 1970-01-01 00:00 %s\n"
			    "lrwxrwxrwx 0/0 0 1970-01-01 00:00 nix/store/x-ll\n"
			    "drwxrwxrwt 0/0 0 1970-01-01 00:00 tmp/\n"
			    "drwx------ 1000/1000 0 1970-01-01 00:00 home/u/\n"
			    "-rw-r--r-- 3000000/5 0 1970-01-01 00:00 home/big\n"
			    "crw-rw-rw- 0/0 1,3 1970-01-01 00:00 dev/null\n"
			    "prw------- 0/0 0 1970-01-01 00:00 run/fifo\n",
		 long_path);
	CHECK_EQ_STR(listing.data, expected.data);
	buf_release(&listing);
	buf_release(&expected);

	/* the tar is unpadded: entries and two zero blocks, no 10 KiB record */
	CHECK_EQ_INT(m.data.len % 512, 0);
	CHECK(!memcmp(m.data.data + m.data.len - 1024, (char[1024]){ 0 }, 1024));
	buf_release(&m.data);
	free(long_name);
	free(long_link);
	free(long_path);
	free(six_hundred);
}

/* Python reads the PAX size of an 8 GiB file (only its header is written). */
TEST(huge_size_read_by_python)
{
	struct tar_header h = { .name = "huge", .type = TAR_FILE, .mode = 0644, .size = (8ULL << 30) + 5,
				.mtime = STW_TAR_MTIME };
	char path[4200], command[8600];
	struct mem_sink m;
	struct buf listing;
	int fd;

	mem_sink_init(&m);
	CHECK_OK(tar_write_header(&m.base, &h));
	CHECK(!memcmp(m.data.data + 1024 + 124, "00000000000", 12)); /* carried by PAX */
	snprintf(path, sizeof(path), "%s/h.tar", scratch_dir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, m.data.data, m.data.len), m.data.len);
	close(fd);
	snprintf(command, sizeof(command),
		 "python3 -c 'import sys, tarfile\n"
		 "t = tarfile.open(sys.argv[1], \"r|\").next()\n"
		 "print(t.name, t.size, t.pax_headers)' '%s'", path);
	run_capture(&listing, command);
	CHECK_EQ_STR(listing.data, "huge 8589934597 {'size': '8589934597'}\n");
	buf_release(&listing);
	buf_release(&m.data);
}

TEST(archive_member_helpers)
{
	struct tar_header f = { .name = "manifest.json", .type = TAR_FILE, .mode = 0644, .size = 7,
				.mtime = STW_TAR_MTIME };
	struct tar_header d = { .name = "blobs", .type = TAR_DIR, .mode = 0755, .mtime = STW_TAR_MTIME };
	struct mem_sink a, b;

	mem_sink_init(&a);
	mem_sink_init(&b);
	CHECK_OK(tar_write_file_header(&a.base, "manifest.json", 7));
	CHECK_OK(tar_write_header(&b.base, &f));
	CHECK_OK(tar_write_dir_header(&a.base, "blobs"));
	CHECK_OK(tar_write_header(&b.base, &d));
	CHECK_EQ_INT(a.data.len, 1024);
	CHECK(a.data.len == b.data.len && !memcmp(a.data.data, b.data.data, a.data.len));
	buf_release(&a.data);
	buf_release(&b.data);
}

int main(void)
{
	return run_tests(TESTS(ENTRY(file_header_bytes), ENTRY(directory_gets_trailing_slash),
			       ENTRY(symlink_and_sticky_and_owner), ENTRY(device_numbers),
			       ENTRY(pax_only_when_ustar_cannot_hold_it), ENTRY(pax_record_length_counts_itself),
			       ENTRY(pax_header_block_bytes), ENTRY(header_size_matches_for_pax_multiple_of_block),
			       ENTRY(padding_and_end), ENTRY(archive_read_by_python_and_gnu_tar),
			       ENTRY(huge_size_read_by_python), ENTRY(archive_member_helpers)));
}
