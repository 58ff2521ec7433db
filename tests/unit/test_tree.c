/* Collecting a layer's entries (lib/tree.h): order, placement, synthesised
 * parents, merging, conflicts and permission rules. */
#include "harness.h"

#include "buf.h"
#include "tree.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

/* As at(), in a ring of its own: for layer paths, which must outlive the
 * at() calls that build their trees. */
static const char *tree_at(const char *rel)
{
	static char paths[8][4400];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, sizeof(paths[0]), "%s", at(rel));
	return p;
}

/* "^<scratch>/<rel>" as a POSIX ERE (the scratch name is [A-Za-z0-9/_-]). */
static char *prefix_regex(const char *rel)
{
	static char regex[8][4500];
	static int next;
	char *r = regex[next++ % 8];
	snprintf(r, sizeof(regex[0]), "^%s", at(rel));
	return r;
}

/* One line per entry: path, type, octal mode, uid, gid, size, link. */
static void listing(struct buf *out, const struct tree *t)
{
	buf_init(out);
	for (size_t i = 0; i < t->count; i++) {
		const struct tree_entry *e = &t->entries[i];
		CHECK_OK(buf_addf(out, "%s %c %04o %llu %llu %llu%s%s%s\n", e->tar_path, (char)e->type, e->mode,
				  (unsigned long long)e->uid, (unsigned long long)e->gid,
				  (unsigned long long)e->size, e->link ? " -> " : "", e->link ? e->link : "",
				  e->source ? "" : " (synthesised)"));
	}
}

static void check_listing(const struct stw_layer *layer, const char *want)
{
	struct tree t;
	struct buf got;

	tree_init(&t);
	CHECK_OK(tree_collect(&t, layer));
	listing(&got, &t);
	CHECK_EQ_STR(got.data, want);
	buf_release(&got);
	tree_release(&t);
}

TEST(normalise)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "/nix/store/x", "nix/store/x" }, { "a//b/./c/", "a/b/c" }, { "/", "" }, { ".", "" },
		{ "", "" }, { "./a/.", "a" }, { "a/..b/c..", "a/..b/c.." }, { "...", "..." },
	};
	static const char *const escaping[] = { "..", "/..", "a/../b", "/nix/store/..", "../x", "a/b/../../.." };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		CHECK_OK(tar_path_normalise(&out, cases[i].in));
		CHECK_EQ_STR(out, cases[i].out);
		free(out);
	}
	for (size_t i = 0; i < sizeof(escaping) / sizeof(escaping[0]); i++) {
		char *out = NULL;
		CHECK_FAILS(tar_path_normalise(&out, escaping[i]), "escapes the image root");
		CHECK(strstr(stw_error_last(), escaping[i]));
		CHECK(out == NULL);
	}
}

/* Bytewise by tar path: '-' (0x2d) < '.' (0x2e) < '/' (0x2f), so "a/x"
 * sorts after "a-b" and "a.c" rather than straight after "a". */
TEST(bytewise_order)
{
	struct stw_layer_path lp = { (char *)tree_at("root"), prefix_regex("root"), (char *)"" };
	struct stw_layer layer = { .paths = &lp, .path_count = 1 };

	make_dir(at("root"), 0755);
	make_dir(at("root/a"), 0755);
	make_file(at("root/a/x"), "x", 1, 0644);
	make_file(at("root/a-b"), "ab", 2, 0644);
	make_file(at("root/a.c"), "", 0, 0600);
	make_file(at("root/B"), "B", 1, 0644);
	make_file(at("root/\xc3\xa9"), "e", 1, 0644);
	make_file(at("root/z"), "z", 1, 0644);
	check_listing(&layer, "B 0 0644 0 0 1\n"
			      "a 5 0755 0 0 0\n"
			      "a-b 0 0644 0 0 2\n"
			      "a.c 0 0600 0 0 0\n"
			      "a/x 0 0644 0 0 1\n"
			      "z 0 0644 0 0 1\n"
			      "\xc3\xa9 0 0644 0 0 1\n");
}

TEST(store_path_gets_synthesised_parents)
{
	struct stw_layer_path lp = { (char *)tree_at("store/abc-foo"), prefix_regex("store"), (char *)"/nix/store" };
	struct stw_layer layer = { .paths = &lp, .path_count = 1 };

	make_dir(at("store"), 0700);
	make_dir(at("store/abc-foo"), 0555);
	make_dir(at("store/abc-foo/bin"), 0555);
	make_file(at("store/abc-foo/bin/foo"), "#!/bin/sh\n", 10, 0555);
	CHECK_OK(symlink("foo", at("store/abc-foo/bin/bar")));
	check_listing(&layer, "nix 5 0755 0 0 0 (synthesised)\n"
			      "nix/store 5 0755 0 0 0 (synthesised)\n"
			      "nix/store/abc-foo 5 0555 0 0 0\n"
			      "nix/store/abc-foo/bin 5 0555 0 0 0\n"
			      "nix/store/abc-foo/bin/bar 2 0777 0 0 0 -> foo\n"
			      "nix/store/abc-foo/bin/foo 0 0555 0 0 10\n");
}

/* A single file as a store path (e.g. a builder's script). */
TEST(store_path_that_is_a_file)
{
	struct stw_layer_path lp = { (char *)tree_at("store/abc-x.sh"), prefix_regex("store"), (char *)"/nix/store" };
	struct stw_layer layer = { .paths = &lp, .path_count = 1 };

	make_dir(at("store"), 0755);
	make_file(at("store/abc-x.sh"), "echo\n", 5, 0444);
	check_listing(&layer, "nix 5 0755 0 0 0 (synthesised)\n"
			      "nix/store 5 0755 0 0 0 (synthesised)\n"
			      "nix/store/abc-x.sh 0 0444 0 0 5\n");
}

TEST(copy_to_root_and_merging_two_roots)
{
	struct stw_layer_path lp[] = {
		{ (char *)tree_at("one"), prefix_regex("one"), (char *)"" },
		{ (char *)tree_at("two"), prefix_regex("two"), (char *)"" },
		{ (char *)tree_at("store/abc-foo"), prefix_regex("store"), (char *)"/nix/store" },
	};
	struct stw_layer layer = { .paths = lp, .path_count = 3 };

	make_dir(at("one"), 0755);
	make_dir(at("one/etc"), 0755);
	make_file(at("one/etc/a"), "a", 1, 0644);
	make_dir(at("one/nix"), 0711); /* a real nix/ wins over the synthesised one */
	make_dir(at("two"), 0755);
	make_dir(at("two/etc"), 0700); /* the same directory: one entry, the first tree's */
	make_file(at("two/etc/b"), "b", 1, 0644);
	CHECK_OK(symlink("a", at("one/etc/link")));
	CHECK_OK(symlink("a", at("two/etc/link"))); /* identical symlinks merge */
	make_dir(at("store"), 0755);
	make_file(at("store/abc-foo"), "foo", 3, 0644);
	check_listing(&layer, "etc 5 0755 0 0 0\n"
			      "etc/a 0 0644 0 0 1\n"
			      "etc/b 0 0644 0 0 1\n"
			      "etc/link 2 0777 0 0 0 -> a\n"
			      "nix 5 0711 0 0 0\n"
			      "nix/store 5 0755 0 0 0 (synthesised)\n"
			      "nix/store/abc-foo 0 0644 0 0 3\n");
}

TEST(same_tree_twice_is_not_a_conflict)
{
	struct stw_layer_path lp[] = {
		{ (char *)tree_at("one"), prefix_regex("one"), (char *)"" },
		{ (char *)tree_at("one"), prefix_regex("one"), (char *)"" },
	};
	struct stw_layer layer = { .paths = lp, .path_count = 2 };

	make_dir(at("one"), 0755);
	make_file(at("one/f"), "f", 1, 0644);
	check_listing(&layer, "f 0 0644 0 0 1\n");
}

TEST(conflicting_files_name_both)
{
	struct stw_layer_path lp[] = {
		{ (char *)tree_at("one"), prefix_regex("one"), (char *)"" },
		{ (char *)tree_at("two"), prefix_regex("two"), (char *)"" },
	};
	struct stw_layer layer = { .paths = lp, .path_count = 2 };
	struct tree t;
	char want[8400];

	make_dir(at("one"), 0755);
	make_dir(at("two"), 0755);
	make_dir(at("one/etc"), 0755);
	make_dir(at("two/etc"), 0755);
	make_file(at("one/etc/passwd"), "root", 4, 0644);
	make_file(at("two/etc/passwd"), "root", 4, 0644); /* same bytes, still two files */
	tree_init(&t);
	snprintf(want, sizeof(want), "conflicting entries for '/etc/passwd': '%s' and '%s'",
		 at("one/etc/passwd"), at("two/etc/passwd"));
	CHECK_FAILS(tree_collect(&t, &layer), want);
	tree_release(&t);

	/* a file against a directory, and symlinks with different targets */
	make_file(at("one/x"), "", 0, 0644);
	make_dir(at("two/x"), 0755);
	CHECK(!unlink(at("two/etc/passwd")));
	tree_init(&t);
	CHECK_FAILS(tree_collect(&t, &layer), "conflicting entries for '/x'");
	tree_release(&t);
	CHECK(!unlink(at("one/x")));
	CHECK_OK(symlink("a", at("one/y")));
	CHECK_OK(symlink("b", at("two/y")));
	tree_init(&t);
	CHECK_FAILS(tree_collect(&t, &layer), "conflicting entries for '/y'");
	tree_release(&t);
}

/* With the files' stat deferred (as layer_stream collects): two trees
 * meeting at one file are still told apart by inode, a hard link is one
 * file, and tree_entry_stat_fd fills a file in from its open fd. */
TEST(deferred_file_stat)
{
	struct stw_layer_path lp[] = {
		{ (char *)tree_at("one"), prefix_regex("one"), (char *)"" },
		{ (char *)tree_at("two"), prefix_regex("two"), (char *)"" },
	};
	struct stw_layer layer = { .paths = lp, .path_count = 2 };
	struct tree t;
	int fd;

	make_dir(at("one"), 0755);
	make_dir(at("two"), 0755);
	make_file(at("one/f"), "abc", 3, 0640);
	make_file(at("two/f"), "abc", 3, 0640);
	tree_init(&t);
	t.defer_file_stat = 1;
	CHECK_FAILS(tree_collect(&t, &layer), "conflicting entries for '/f'");
	tree_release(&t);
	CHECK(!unlink(at("two/f")));
	CHECK_OK(link(at("one/f"), at("two/f")));
	tree_init(&t);
	t.defer_file_stat = 1;
	CHECK_OK(tree_collect(&t, &layer));
	CHECK_EQ_INT(t.count, 1);
	CHECK_EQ_STR(t.entries[0].tar_path, "f");
	CHECK_EQ_INT(t.entries[0].unstated, 0); /* stat'ed to compare the two */
	CHECK_EQ_INT(t.entries[0].size, 3);
	tree_release(&t);
	lp[1] = lp[0]; /* one tree: the file is left unstated until opened */
	layer.path_count = 1;
	tree_init(&t);
	t.defer_file_stat = 1;
	CHECK_OK(tree_collect(&t, &layer));
	CHECK_EQ_INT(t.entries[0].unstated, 1);
	fd = open(at("one/f"), O_RDONLY);
	CHECK(fd >= 0);
	CHECK_OK(tree_entry_stat_fd(&t.entries[0], fd));
	close(fd);
	CHECK_EQ_INT(t.entries[0].size, 3);
	CHECK_EQ_INT(t.entries[0].mode, 0640);
	fd = open(at("one"), O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	CHECK_FAILS(tree_entry_stat_fd(&t.entries[0], fd), "changed while it was being read");
	close(fd);
	tree_release(&t);
}

/* A synthesised parent ("nix", "nix/store") is a directory: a file or a
 * symlink of that name from another tree cannot stand in for it, in
 * either order of the trees. */
TEST(parent_must_stay_a_directory)
{
	struct stw_layer_path lp[] = {
		{ (char *)tree_at("root"), prefix_regex("root"), (char *)"" },
		{ (char *)tree_at("store/abc-foo"), prefix_regex("store"), (char *)"/nix/store" },
		{ (char *)tree_at("root"), prefix_regex("root"), (char *)"" },
	};
	struct stw_layer layer = { .path_count = 2 };
	struct tree t;
	char want[8400];

	make_dir(at("root"), 0755);
	make_file(at("root/nix"), "not a directory", 15, 0644);
	make_dir(at("store"), 0755);
	make_file(at("store/abc-foo"), "foo", 3, 0644);
	snprintf(want, sizeof(want), "conflicting entries for '/nix': '%s' and a directory", at("root/nix"));
	for (int first = 0; first < 2; first++) {
		layer.paths = &lp[first];
		tree_init(&t);
		CHECK_FAILS(tree_collect(&t, &layer), want);
		tree_release(&t);
	}
	CHECK(!unlink(at("root/nix")));
	CHECK_OK(symlink("/elsewhere", at("root/nix")));
	make_dir(at("root/etc"), 0755);
	for (int first = 0; first < 2; first++) {
		layer.paths = &lp[first];
		tree_init(&t);
		CHECK_FAILS(tree_collect(&t, &layer), "conflicting entries for '/nix'");
		tree_release(&t);
	}
}

TEST(escaping_rewrite_rejected)
{
	struct stw_layer_path lp = { (char *)tree_at("one"), prefix_regex("one"), (char *)"/../outside" };
	struct stw_layer layer = { .paths = &lp, .path_count = 1 };
	struct tree t;

	make_dir(at("one"), 0755);
	tree_init(&t);
	CHECK_FAILS(tree_collect(&t, &layer), "escapes the image root");
	tree_release(&t);
}

TEST(bad_layer_paths)
{
	struct stw_layer_path rel = { (char *)"relative/path", NULL, NULL };
	struct stw_layer_path missing = { (char *)tree_at("missing"), NULL, NULL };
	struct stw_layer_path file_root = { (char *)tree_at("f"), prefix_regex("f"), (char *)"" };
	struct stw_layer_path bad_regex = { (char *)tree_at(""), (char *)"(", (char *)"" };
	struct stw_perm_rule bad_perm = { (char *)"[", -1, -1, -1 };
	struct stw_layer layer = { .path_count = 1 };
	struct tree t;

	make_file(at("f"), "", 0, 0644);
	tree_init(&t);
	layer.paths = &rel;
	CHECK_FAILS(tree_collect(&t, &layer), "layer path 'relative/path' is not absolute");
	tree_release(&t);
	layer.paths = &missing;
	CHECK_FAILS(tree_collect(&t, &layer), "No such file");
	tree_release(&t);
	layer.paths = &file_root;
	CHECK_FAILS(tree_collect(&t, &layer), "must be a directory");
	tree_release(&t);
	layer.paths = &bad_regex;
	CHECK_FAILS(tree_collect(&t, &layer), "invalid rewrite regex '('");
	tree_release(&t);
	layer.paths = &file_root;
	layer.perms = &bad_perm;
	layer.perm_count = 1;
	CHECK_FAILS(tree_collect(&t, &layer), "invalid permission regex '['");
	tree_release(&t);
}

TEST(permission_rules)
{
	struct stw_layer_path lp = { (char *)tree_at("root"), prefix_regex("root"), (char *)"" };
	struct stw_perm_rule rules[] = {
		{ (char *)"^/tmp$", 01777, -1, -1 },
		{ (char *)"^/home/u(/.*)?$", -1, 1000, 100 },
		{ (char *)"^/home/u/secret$", 0600, -1, -1 },
		{ (char *)"^/bin/sudo$", 04755, -1, -1 },
		{ (char *)"^/bin/sh$", 0700, 5, -1 }, /* a symlink keeps 0777 */
		{ (char *)"^/home/u/big$", -1, 3000000000LL, 4000000000LL },
	};
	struct stw_layer layer = { .paths = &lp, .path_count = 1, .perms = rules, .perm_count = 6 };

	make_dir(at("root"), 0755);
	make_dir(at("root/tmp"), 0755);
	make_dir(at("root/home"), 0755);
	make_dir(at("root/home/u"), 0755);
	make_file(at("root/home/u/secret"), "s", 1, 0644);
	make_file(at("root/home/u/big"), "", 0, 0644);
	make_dir(at("root/bin"), 0755);
	make_file(at("root/bin/sudo"), "", 0, 0755);
	make_file(at("root/bin/su"), "", 0, 04755);    /* setuid from disk is dropped */
	make_file(at("root/bin/wall"), "", 0, 02755);  /* so is setgid */
	make_dir(at("root/bin/shared"), 03777);        /* the sticky bit stays */
	CHECK_OK(symlink("bash", at("root/bin/sh")));
	check_listing(&layer, "bin 5 0755 0 0 0\n"
			      "bin/sh 2 0777 5 0 0 -> bash\n"
			      "bin/shared 5 1777 0 0 0\n"
			      "bin/su 0 0755 0 0 0\n"
			      "bin/sudo 0 4755 0 0 0\n"
			      "bin/wall 0 0755 0 0 0\n"
			      "home 5 0755 0 0 0\n"
			      "home/u 5 0755 1000 100 0\n"
			      "home/u/big 0 0644 3000000000 4000000000 0\n"
			      "home/u/secret 0 0600 1000 100 1\n"
			      "tmp 5 1777 0 0 0\n");
}

/* Rules see the final image path, so they also reach synthesised parents'
 * children but not the synthesised parents themselves. */
TEST(permission_rules_use_image_paths)
{
	struct stw_layer_path lp = { (char *)tree_at("store/abc-foo"), prefix_regex("store"), (char *)"/nix/store" };
	struct stw_perm_rule rule = { (char *)"^/nix/store/abc-foo/etc/shadow$", 0400, -1, 42 };
	struct stw_layer layer = { .paths = &lp, .path_count = 1, .perms = &rule, .perm_count = 1 };

	make_dir(at("store"), 0755);
	make_dir(at("store/abc-foo"), 0755);
	make_dir(at("store/abc-foo/etc"), 0755);
	make_file(at("store/abc-foo/etc/shadow"), "", 0, 0644);
	check_listing(&layer, "nix 5 0755 0 0 0 (synthesised)\n"
			      "nix/store 5 0755 0 0 0 (synthesised)\n"
			      "nix/store/abc-foo 5 0755 0 0 0\n"
			      "nix/store/abc-foo/etc 5 0755 0 0 0\n"
			      "nix/store/abc-foo/etc/shadow 0 0400 0 42 0\n");
}

TEST(special_files)
{
	struct stw_layer_path lp = { (char *)tree_at("root"), prefix_regex("root"), (char *)"" };
	struct stw_layer layer = { .paths = &lp, .path_count = 1 };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct tree t;
	char want[8400];
	int fd;

	make_dir(at("root"), 0755);
	CHECK_OK(mkfifo(at("root/fifo"), 0600));
	CHECK_OK(chmod(at("root/fifo"), 0620));
	make_file(at("root/file"), "12345", 5, 0644);
	CHECK_OK(link(at("root/file"), at("root/hardlink"))); /* written as a file again */
	if (mknod(at("root/null"), S_IFCHR | 0666, makedev(1, 3)) == 0) {
		CHECK_OK(chmod(at("root/null"), 0666));
		CHECK_OK(mknod(at("root/sda"), S_IFBLK | 0660, makedev(8, 0)));
		CHECK_OK(chmod(at("root/sda"), 0660));
		check_listing(&layer, "fifo 6 0620 0 0 0\n"
				      "file 0 0644 0 0 5\n"
				      "hardlink 0 0644 0 0 5\n"
				      "null 3 0666 0 0 0\n"
				      "sda 4 0660 0 0 0\n");
		tree_init(&t);
		CHECK_OK(tree_collect(&t, &layer));
		CHECK_EQ_INT(t.entries[3].devmajor, 1);
		CHECK_EQ_INT(t.entries[3].devminor, 3);
		CHECK_EQ_INT(t.entries[4].devmajor, 8);
		CHECK_EQ_INT(t.entries[4].devminor, 0);
		tree_release(&t);
	} else {
		test_note("no mknod here (%s): devices not checked", strerror(errno));
		check_listing(&layer, "fifo 6 0620 0 0 0\n"
				      "file 0 0644 0 0 5\n"
				      "hardlink 0 0644 0 0 5\n");
	}

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", at("root/sock"));
	CHECK(strlen(at("root/sock")) < sizeof(addr.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	CHECK_OK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)));
	close(fd);
	tree_init(&t);
	snprintf(want, sizeof(want), "cannot put '%s' in a layer: sockets cannot be stored", at("root/sock"));
	CHECK_FAILS(tree_collect(&t, &layer), want);
	tree_release(&t);
}

TEST(entry_header)
{
	struct tree_entry file = { .tar_path = (char *)"a/b", .type = TAR_FILE, .mode = 0644, .uid = 7,
				   .gid = 8, .size = 42, .mtime_ns = 123456789 };
	struct tree_entry dir = { .tar_path = (char *)"a", .type = TAR_DIR, .mode = 0755, .size = 4096 };
	struct tree_entry link = { .tar_path = (char *)"l", .link = (char *)"a/b", .type = TAR_SYMLINK,
				   .mode = 0777, .size = 3 };
	struct tar_header h;

	tree_entry_header(&file, &h);
	CHECK_EQ_STR(h.name, "a/b");
	CHECK(h.linkname == NULL);
	CHECK_EQ_INT(h.type, TAR_FILE);
	CHECK_EQ_INT(h.mode, 0644);
	CHECK_EQ_INT(h.uid, 7);
	CHECK_EQ_INT(h.gid, 8);
	CHECK_EQ_INT(h.size, 42);
	CHECK_EQ_INT(h.mtime, STW_TAR_MTIME); /* never the file's own mtime */
	tree_entry_header(&dir, &h);
	CHECK_EQ_INT(h.size, 0);
	tree_entry_header(&link, &h);
	CHECK_EQ_STR(h.linkname, "a/b");
	CHECK_EQ_INT(h.size, 0);
}

int main(void)
{
	umask(022);
	return run_tests(TESTS(ENTRY(normalise), ENTRY(bytewise_order), ENTRY(store_path_gets_synthesised_parents),
			       ENTRY(store_path_that_is_a_file), ENTRY(copy_to_root_and_merging_two_roots),
			       ENTRY(same_tree_twice_is_not_a_conflict), ENTRY(parent_must_stay_a_directory), ENTRY(conflicting_files_name_both),
			       ENTRY(deferred_file_stat),
			       ENTRY(escaping_rewrite_rejected), ENTRY(bad_layer_paths), ENTRY(permission_rules),
			       ENTRY(permission_rules_use_image_paths), ENTRY(special_files), ENTRY(entry_header)));
}
