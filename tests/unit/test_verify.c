/* Verifying an image (lib/verify.h, stowage/verify.h): ELF headers to OCI
 * architectures, and stw_verify on small synthetic images whose "binaries"
 * are bare 64-byte ELF headers. */
#include "harness.h"

#include "layer_tar.h"
#include "verify.h"

#include <elf.h>

/* A file holding just an ELF header. */
static void make_elf(const char *path, int elf_class, int data, unsigned type, unsigned machine, mode_t mode)
{
	unsigned char h[ELF_HEADER_SIZE] = { 0x7f, 'E', 'L', 'F' };

	h[EI_CLASS] = (unsigned char)elf_class;
	h[EI_DATA] = (unsigned char)data;
	h[EI_VERSION] = EV_CURRENT;
	if (data == ELFDATA2LSB) {
		h[16] = type & 0xff, h[17] = (type >> 8) & 0xff;
		h[18] = machine & 0xff, h[19] = (machine >> 8) & 0xff;
	} else {
		h[16] = (type >> 8) & 0xff, h[17] = type & 0xff;
		h[18] = (machine >> 8) & 0xff, h[19] = machine & 0xff;
	}
	make_file(path, h, sizeof(h), mode);
}

static void make_link(const char *path, const char *target)
{
	if (symlink(target, path) < 0)
		test_fail(__FILE__, __LINE__, "cannot create symlink '%s'", path);
}

TEST(elf_architectures)
{
	static const struct {
		int elf_class, data;
		unsigned machine;
		const char *arch, *name;
	} cases[] = {
		{ ELFCLASS64, ELFDATA2LSB, EM_X86_64, "amd64", "x86-64" },
		{ ELFCLASS64, ELFDATA2LSB, EM_AARCH64, "arm64", "aarch64" },
		{ ELFCLASS32, ELFDATA2LSB, EM_ARM, "arm", "arm" },
		{ ELFCLASS32, ELFDATA2LSB, EM_386, "386", "i386" },
		{ ELFCLASS64, ELFDATA2LSB, EM_PPC64, "ppc64le", "ppc64le" },
		{ ELFCLASS64, ELFDATA2MSB, EM_PPC64, "ppc64", "ppc64" },
		{ ELFCLASS64, ELFDATA2MSB, EM_S390, "s390x", "s390x" },
		{ ELFCLASS64, ELFDATA2LSB, EM_RISCV, "riscv64", "riscv64" },
		{ ELFCLASS64, ELFDATA2LSB, EM_MIPS, "mips64le", "mips64el" },
		{ ELFCLASS64, ELFDATA2MSB, EM_MIPS, "mips64", "mips64" },
		{ ELFCLASS32, ELFDATA2LSB, EM_MIPS, "mipsle", "mipsel" },
		{ ELFCLASS32, ELFDATA2MSB, EM_MIPS, "mips", "mips" },
		{ ELFCLASS64, ELFDATA2LSB, 258 /* EM_LOONGARCH */, "loong64", "loongarch64" },
		{ ELFCLASS32, ELFDATA2LSB, EM_RISCV, NULL, "riscv32" },
		{ ELFCLASS32, ELFDATA2MSB, EM_PPC, NULL, "ppc" },
		{ ELFCLASS64, ELFDATA2LSB, 0x4242, NULL, "machine 16962" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct elf_ident id;
		char path[64], name[32];
		int is_elf;

		snprintf(path, sizeof(path), "elf%zu", i);
		make_elf(at(path), cases[i].elf_class, cases[i].data, ET_DYN, cases[i].machine, 0755);
		CHECK_OK(elf_ident_read(&id, &is_elf, at(path)));
		CHECK_EQ_INT(is_elf, 1);
		CHECK_EQ_INT(id.type, ET_DYN);
		CHECK_EQ_INT(id.machine, cases[i].machine);
		if (cases[i].arch)
			CHECK_EQ_STR(elf_oci_arch(&id), cases[i].arch);
		else
			CHECK(elf_oci_arch(&id) == NULL);
		elf_machine_name(name, sizeof(name), &id);
		CHECK_EQ_STR(name, cases[i].name);
	}
}

TEST(not_elf)
{
	struct elf_ident id;
	int is_elf = -1;

	make_file(at("script"), "#!/bin/sh\necho hi\n", 18, 0755);
	CHECK_OK(elf_ident_read(&id, &is_elf, at("script")));
	CHECK_EQ_INT(is_elf, 0);
	make_file(at("empty"), "", 0, 0755);
	CHECK_OK(elf_ident_read(&id, &is_elf, at("empty")));
	CHECK_EQ_INT(is_elf, 0);
	make_file(at("short"), "\x7f" "ELF\x02\x01", 6, 0755);
	CHECK_FAILS(elf_ident_read(&id, &is_elf, at("short")), "truncated ELF header");
	make_elf(at("badclass"), 7, ELFDATA2LSB, ET_EXEC, EM_X86_64, 0755);
	CHECK_FAILS(elf_ident_read(&id, &is_elf, at("badclass")), "unknown ELF class 7");
	make_elf(at("badorder"), ELFCLASS64, 3, ET_EXEC, EM_X86_64, 0755);
	CHECK_FAILS(elf_ident_read(&id, &is_elf, at("badorder")), "unknown ELF byte order 3");
	CHECK_FAILS(elf_ident_read(&id, &is_elf, at("missing")), "cannot open");
}

/* A one-layer image of the tree at rel (placed at its own path). */
struct test_image {
	struct stw_image img;
	struct stw_layer layers[2];
	struct stw_layer_path paths[2];
	char config[8192];
};

static void image_init(struct test_image *t, const char *config_body)
{
	memset(t, 0, sizeof(*t));
	t->img.has_config = 1;
	t->img.config_json = t->config;
	t->img.layers = t->layers;
	snprintf(t->config, sizeof(t->config), "{%s}", config_body);
}

static void image_add_layer(struct test_image *t, const char *path, const char *rewrite_regex)
{
	struct stw_layer *l = &t->layers[t->img.layer_count];
	struct stw_layer_path *p = &t->paths[t->img.layer_count++];

	p->path = (char *)path;
	p->rewrite_regex = (char *)rewrite_regex;
	p->rewrite_repl = rewrite_regex ? (char *)"" : NULL;
	l->paths = p;
	l->path_count = 1;
}

/* store/tool: bin/tool (x86-64 executable), lib/libt.so (x86-64 shared
 * library), lib/t.o (an aarch64 relocatable object: not checked), lib/data
 * (an aarch64 shared library without an x bit: not checked), bin/rel ->
 * ../bin/./tool, bin/abs -> (absolute) bin/rel. */
static void make_store(void)
{
	static char abs_target[4400];

	make_dir(at("store"), 0755);
	make_dir(at("store/tool"), 0755);
	make_dir(at("store/tool/bin"), 0755);
	make_dir(at("store/tool/lib"), 0755);
	make_elf(at("store/tool/bin/tool"), ELFCLASS64, ELFDATA2LSB, ET_EXEC, EM_X86_64, 0755);
	make_elf(at("store/tool/lib/libt.so"), ELFCLASS64, ELFDATA2LSB, ET_DYN, EM_X86_64, 0555);
	make_elf(at("store/tool/lib/t.o"), ELFCLASS64, ELFDATA2LSB, ET_REL, EM_AARCH64, 0755);
	make_elf(at("store/tool/lib/data"), ELFCLASS64, ELFDATA2LSB, ET_DYN, EM_AARCH64, 0644);
	make_link(at("store/tool/bin/rel"), "../bin/./tool");
	snprintf(abs_target, sizeof(abs_target), "%s", at("store/tool/bin/rel"));
	make_link(at("store/tool/bin/abs"), abs_target);
}

TEST(verify_ok_through_symlinks)
{
	struct stw_verify_report r;
	struct test_image t;
	char config[4400];

	make_store();
	snprintf(config, sizeof(config), "\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"%s\"]}",
		 at("store/tool/bin/abs"));
	image_init(&t, config);
	image_add_layer(&t, at("store/tool"), NULL);
	CHECK_OK(stw_verify(&r, &t.img, 0));
	CHECK_EQ_STR(r.architecture, "amd64");
	CHECK_EQ_STR(r.os, "linux");
	CHECK(r.variant == NULL);
	CHECK_EQ_STR(r.entrypoint, at("store/tool/bin/abs"));
	CHECK_EQ_STR(r.entrypoint_path, at("store/tool/bin/tool"));
	CHECK_EQ_STR(r.entrypoint_arch, "amd64");
	CHECK_EQ_STR(r.entrypoint_machine, "x86-64");
	CHECK_EQ_INT(r.elf_files, 2);
	CHECK_EQ_INT(r.layers_verified, 0);
	CHECK(r.note == NULL);
	stw_verify_report_release(&r);
}

TEST(verify_entrypoint_from_path_and_cmd)
{
	struct stw_verify_report r;
	struct test_image t;
	char config[4400];

	make_store();
	snprintf(config, sizeof(config),
		 "\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"rel\",\"-x\"],\"Env\":[\"A=1\",\"PATH=/nowhere:%s\"]}",
		 at("store/tool/bin"));
	image_init(&t, config);
	image_add_layer(&t, at("store/tool"), NULL);
	CHECK_OK(stw_verify(&r, &t.img, 0));
	CHECK_EQ_STR(r.entrypoint, "rel");
	CHECK_EQ_STR(r.entrypoint_path, at("store/tool/bin/tool"));
	stw_verify_report_release(&r);
}

TEST(verify_mismatch_names_the_file)
{
	struct stw_verify_report r;
	struct test_image t;
	char config[4400], want[4600];

	make_store();
	/* the entrypoint first */
	snprintf(config, sizeof(config), "\"architecture\":\"arm64\",\"config\":{\"Entrypoint\":[\"%s\"]}",
		 at("store/tool/bin/rel"));
	image_init(&t, config);
	image_add_layer(&t, at("store/tool"), NULL);
	snprintf(want, sizeof(want), "'%s' is an x86-64 (amd64) ELF binary but the image config says arm64",
		 at("store/tool/bin/tool"));
	CHECK_FAILS(stw_verify(&r, &t.img, 0), want);
	stw_verify_report_release(&r);

	/* any other binary, with no entrypoint */
	make_elf(at("store/tool/lib/libarm.so"), ELFCLASS64, ELFDATA2LSB, ET_DYN, EM_AARCH64, 0755);
	image_init(&t, "\"architecture\":\"amd64\"");
	image_add_layer(&t, at("store/tool"), NULL);
	snprintf(want, sizeof(want), "'%s' is an aarch64 (arm64) ELF binary but the image config says amd64",
		 at("store/tool/lib/libarm.so"));
	CHECK_FAILS(stw_verify(&r, &t.img, 0), want);
	stw_verify_report_release(&r);

	/* a machine no OCI architecture names */
	unlink(at("store/tool/lib/libarm.so"));
	make_elf(at("store/tool/lib/odd"), ELFCLASS64, ELFDATA2LSB, ET_EXEC, 0x4242, 0755);
	image_init(&t, "\"architecture\":\"amd64\"");
	image_add_layer(&t, at("store/tool"), NULL);
	CHECK_FAILS(stw_verify(&r, &t.img, 0), "is an ELF binary for machine 16962, which no OCI architecture names");
	stw_verify_report_release(&r);
}

TEST(verify_missing_entrypoint_and_loops)
{
	struct stw_verify_report r;
	struct test_image t;
	char config[4400], want[4600];

	make_store();
	make_link(at("store/tool/bin/loop"), "loop");
	make_link(at("store/tool/bin/dangling"), "/no/such/file");
	snprintf(config, sizeof(config), "\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"%s\"]}",
		 at("store/tool/bin/fd"));
	image_init(&t, config);
	image_add_layer(&t, at("store/tool"), NULL);
	snprintf(want, sizeof(want), "entrypoint '%s': '%s' is not in the image", at("store/tool/bin/fd"),
		 at("store/tool/bin/fd"));
	CHECK_FAILS(stw_verify(&r, &t.img, 0), want);
	stw_verify_report_release(&r);

	snprintf(config, sizeof(config), "\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"%s\"]}",
		 at("store/tool/bin/loop"));
	image_init(&t, config);
	image_add_layer(&t, at("store/tool"), NULL);
	CHECK_FAILS(stw_verify(&r, &t.img, 0), "too many levels of symbolic links");
	stw_verify_report_release(&r);

	snprintf(config, sizeof(config), "\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"%s\"]}",
		 at("store/tool/bin/dangling"));
	image_init(&t, config);
	image_add_layer(&t, at("store/tool"), NULL);
	CHECK_FAILS(stw_verify(&r, &t.img, 0), "'/no' is not in the image");
	stw_verify_report_release(&r);

	snprintf(config, sizeof(config), "\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"%s\"]}",
		 at("store/tool/bin"));
	image_init(&t, config);
	image_add_layer(&t, at("store/tool"), NULL);
	CHECK_FAILS(stw_verify(&r, &t.img, 0), "is not a regular file");
	stw_verify_report_release(&r);

	snprintf(config, sizeof(config), "\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"%s/x\"]}",
		 at("store/tool/bin/tool"));
	image_init(&t, config);
	image_add_layer(&t, at("store/tool"), NULL);
	CHECK_FAILS(stw_verify(&r, &t.img, 0), "is not a directory");
	stw_verify_report_release(&r);
}

/* Two copy-to-root layers both hold /bin/tool: the top one is what runs. */
TEST(verify_top_layer_wins)
{
	struct stw_verify_report r;
	struct test_image t;
	char low_re[4500], high_re[4500];

	make_dir(at("low"), 0755);
	make_dir(at("low/bin"), 0755);
	make_dir(at("high"), 0755);
	make_dir(at("high/bin"), 0755);
	make_elf(at("low/bin/tool"), ELFCLASS64, ELFDATA2LSB, ET_EXEC, EM_AARCH64, 0755);
	make_elf(at("high/bin/tool"), ELFCLASS64, ELFDATA2LSB, ET_EXEC, EM_X86_64, 0755);
	snprintf(low_re, sizeof(low_re), "^%s", at("low"));
	snprintf(high_re, sizeof(high_re), "^%s", at("high"));
	image_init(&t, "\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"/bin/tool\"]}");
	image_add_layer(&t, at("low"), low_re);
	image_add_layer(&t, at("high"), high_re);
	CHECK_OK(stw_verify(&r, &t.img, 0));
	CHECK_EQ_STR(r.entrypoint_path, "/bin/tool");
	CHECK_EQ_INT(r.elf_files, 1);
	stw_verify_report_release(&r);
}

TEST(verify_notes)
{
	struct stw_verify_report r;
	struct test_image t;
	char config[4400];

	make_dir(at("data"), 0755);
	make_file(at("data/readme"), "hello\n", 6, 0644);
	make_file(at("data/run.sh"), "#!/bin/sh\n", 10, 0755);
	image_init(&t, "\"architecture\":\"amd64\"");
	image_add_layer(&t, at("data"), NULL);
	CHECK_OK(stw_verify(&r, &t.img, 0));
	CHECK(r.note && strstr(r.note, "no entrypoint and no ELF files"));
	CHECK_EQ_INT(r.elf_files, 0);
	stw_verify_report_release(&r);

	snprintf(config, sizeof(config), "\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"%s\"]}",
		 at("data/run.sh"));
	image_init(&t, config);
	image_add_layer(&t, at("data"), NULL);
	CHECK_OK(stw_verify(&r, &t.img, 0));
	CHECK(r.note && strstr(r.note, "script"));
	CHECK(r.entrypoint_arch == NULL);
	stw_verify_report_release(&r);

	image_init(&t, "\"os\":\"linux\"");
	image_add_layer(&t, at("data"), NULL);
	CHECK_FAILS(stw_verify(&r, &t.img, 0), "names no architecture");
	stw_verify_report_release(&r);

	image_init(&t, "");
	t.img.has_config = 0;
	image_add_layer(&t, at("data"), NULL);
	CHECK_OK(stw_verify(&r, &t.img, 0));
	CHECK(r.note && strstr(r.note, "layer JSON"));
	CHECK(r.architecture == NULL);
	stw_verify_report_release(&r);
}

/* The recorded digests against the tree as it is now. */
TEST(verify_digests)
{
	struct stw_verify_report r;
	struct layer_digests d;
	struct test_image t;
	char want[4600];

	make_dir(at("data"), 0755);
	make_file(at("data/readme"), "hello\n", 6, 0644);
	image_init(&t, "\"architecture\":\"amd64\"");
	image_add_layer(&t, at("data"), NULL);
	CHECK_OK(layer_compute(&t.layers[0], NULL, &d));
	memcpy(t.layers[0].diff_id, d.diff_id, sizeof(d.diff_id));
	memcpy(t.layers[0].digest, d.digest, sizeof(d.digest));
	t.layers[0].tar_size = d.tar_size;
	t.layers[0].size = d.size;
	CHECK_OK(stw_verify(&r, &t.img, 1));
	CHECK_EQ_INT(r.layers_verified, 1);
	stw_verify_report_release(&r);

	t.layers[0].size++;
	CHECK_FAILS(stw_verify(&r, &t.img, 1), "no longer matches its recorded size");
	stw_verify_report_release(&r);
	t.layers[0].size--;

	make_file(at("data/readme"), "HELLO\n", 6, 0644);
	snprintf(want, sizeof(want), "layer 0 holding '%s' no longer matches its recorded diff_id", at("data"));
	CHECK_FAILS(stw_verify(&r, &t.img, 1), want);
	stw_verify_report_release(&r);
	CHECK_OK(stw_verify(&r, &t.img, 0));
	CHECK_EQ_INT(r.layers_verified, 0);
	stw_verify_report_release(&r);
}

int main(void)
{
	return run_tests(TESTS(ENTRY(elf_architectures), ENTRY(not_elf), ENTRY(verify_ok_through_symlinks),
			       ENTRY(verify_entrypoint_from_path_and_cmd), ENTRY(verify_mismatch_names_the_file),
			       ENTRY(verify_missing_entrypoint_and_loops), ENTRY(verify_top_layer_wins),
			       ENTRY(verify_notes), ENTRY(verify_digests)));
}
