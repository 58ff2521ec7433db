/*
 * stw_verify: the image's binaries against its config's architecture, and
 * its layers against their recorded digests. The image is seen as a reader
 * would see it after unpacking every layer in order: a path in a higher
 * layer hides the same path in a lower one, and symlinks are followed
 * inside the image, never on the host.
 */
#include "verify.h"

#include "buf.h"
#include "error.h"
#include "image_view.h"
#include "layer_tar.h"
#include "strmap.h"
#include "tree.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef EM_LOONGARCH
#define EM_LOONGARCH 258
#endif
#ifndef EM_BPF
#define EM_BPF 247
#endif

int elf_ident_parse(struct elf_ident *out, int *is_elf, const unsigned char *d, size_t len, const char *origin)
{
	memset(out, 0, sizeof(*out));
	*is_elf = 0;
	if (len < SELFMAG || memcmp(d, ELFMAG, SELFMAG) != 0)
		return 0;
	/* e_type and e_machine sit at the same offsets in ELF32 and ELF64 */
	if (len < 20)
		return stw_error("'%s': truncated ELF header (%zu bytes)", origin, len);
	if (d[EI_CLASS] != ELFCLASS32 && d[EI_CLASS] != ELFCLASS64)
		return stw_error("'%s': unknown ELF class %u", origin, d[EI_CLASS]);
	if (d[EI_DATA] != ELFDATA2LSB && d[EI_DATA] != ELFDATA2MSB)
		return stw_error("'%s': unknown ELF byte order %u", origin, d[EI_DATA]);
	out->elf_class = d[EI_CLASS];
	out->data = d[EI_DATA];
	if (out->data == ELFDATA2LSB) {
		out->type = (unsigned)d[16] | (unsigned)d[17] << 8;
		out->machine = (unsigned)d[18] | (unsigned)d[19] << 8;
	} else {
		out->type = (unsigned)d[16] << 8 | (unsigned)d[17];
		out->machine = (unsigned)d[18] << 8 | (unsigned)d[19];
	}
	*is_elf = 1;
	return 0;
}

/* The ELF identity of a regular file in the view; origin names it. */
static int view_elf_ident(struct elf_ident *out, int *is_elf, const struct view_entry *e, const char *origin)
{
	unsigned char head[ELF_HEADER_SIZE];
	size_t got;

	memset(out, 0, sizeof(*out));
	*is_elf = 0;
	if (image_view_head(e, head, sizeof(head), &got) < 0)
		return -1;
	return elf_ident_parse(out, is_elf, head, got, origin);
}

int elf_ident_read(struct elf_ident *out, int *is_elf, const char *path)
{
	struct view_entry e = { .source = (char *)path, .type = TAR_FILE };

	return view_elf_ident(out, is_elf, &e, path);
}

const char *elf_oci_arch(const struct elf_ident *e)
{
	int is64 = e->elf_class == ELFCLASS64, msb = e->data == ELFDATA2MSB;

	switch (e->machine) {
	case EM_X86_64:
		return "amd64"; /* x32 included: the same instruction set */
	case EM_386:
		return "386";
	case EM_AARCH64:
		return "arm64";
	case EM_ARM:
		return "arm";
	case EM_PPC64:
		return msb ? "ppc64" : "ppc64le";
	case EM_S390:
		return is64 ? "s390x" : "s390";
	case EM_RISCV:
		return is64 ? "riscv64" : NULL;
	case EM_MIPS:
		if (is64)
			return msb ? "mips64" : "mips64le";
		return msb ? "mips" : "mipsle";
	case EM_LOONGARCH:
		return is64 ? "loong64" : NULL;
	case EM_SPARCV9:
		return "sparc64";
	default:
		return NULL;
	}
}

void elf_machine_name(char *out, size_t len, const struct elf_ident *e)
{
	int is64 = e->elf_class == ELFCLASS64, msb = e->data == ELFDATA2MSB;
	const char *name = NULL;

	switch (e->machine) {
	case EM_X86_64: name = is64 ? "x86-64" : "x32"; break;
	case EM_386: name = "i386"; break;
	case EM_AARCH64: name = is64 ? "aarch64" : "aarch64-ilp32"; break;
	case EM_ARM: name = msb ? "armeb" : "arm"; break;
	case EM_PPC64: name = msb ? "ppc64" : "ppc64le"; break;
	case EM_PPC: name = msb ? "ppc" : "ppcle"; break;
	case EM_S390: name = is64 ? "s390x" : "s390"; break;
	case EM_RISCV: name = is64 ? "riscv64" : "riscv32"; break;
	case EM_MIPS: name = is64 ? (msb ? "mips64" : "mips64el") : (msb ? "mips" : "mipsel"); break;
	case EM_LOONGARCH: name = is64 ? "loongarch64" : "loongarch32"; break;
	case EM_SPARCV9: name = "sparcv9"; break;
	default: break;
	}
	if (name)
		snprintf(out, len, "%s", name);
	else
		snprintf(out, len, "machine %u", e->machine);
}

void stw_verify_report_init(struct stw_verify_report *r)
{
	memset(r, 0, sizeof(*r));
}

void stw_verify_report_release(struct stw_verify_report *r)
{
	if (!r)
		return;
	free(r->architecture);
	free(r->os);
	free(r->variant);
	free(r->entrypoint);
	free(r->entrypoint_path);
	free(r->entrypoint_arch);
	free(r->entrypoint_machine);
	free(r->note);
	free(r->digest);
	stw_verify_report_init(r);
}

int verify_set_string(char **field, const char *value)
{
	char *copy = NULL;

	if (value && !(copy = strdup(value)))
		return stw_error("out of memory");
	free(*field);
	*field = copy;
	return 0;
}

/* The program a runtime starts: Entrypoint[0], else Cmd[0]; NULL if none. */
static const char *configured_program(json_t *cfg)
{
	json_t *c = json_object_get(cfg, "config");
	json_t *entry = json_object_get(c, "Entrypoint");

	if (json_is_array(entry) && json_array_size(entry))
		return json_string_value(json_array_get(entry, 0));
	return json_string_value(json_array_get(json_object_get(c, "Cmd"), 0));
}

static const char *article(const char *name)
{
	return strchr("aeiosx", name[0]) ? "an" : "a";
}

static int mismatch(const char *path, const struct elf_ident *id, const char *arch, const char *want)
{
	char machine[32];

	elf_machine_name(machine, sizeof(machine), id);
	if (arch)
		return stw_error("'%s' is %s %s (%s) ELF binary but the image config says %s", path, article(machine),
				 machine, arch, want);
	return stw_error("'%s' is an ELF binary for %s, which no OCI architecture names, but the image config says %s",
			 path, machine, want);
}

/* Files a kernel or a device loads, not the image's CPU. */
static int is_firmware(const char *tar_path)
{
	return !strncmp(tar_path, "lib/firmware/", 13) || strstr(tar_path, "/lib/firmware/") != NULL;
}

/* Checks every ELF executable and shared library a reader of the image
 * sees against arch, counting them. */
static int check_elf_files(size_t *count, const struct image_view *v, const char *arch)
{
	struct buf path;
	int ret = -1;

	buf_init(&path);
	*count = 0;
	for (size_t i = 0; i < v->count; i++) {
		const struct view_entry *e = &v->entries[i];
		struct elf_ident id;
		const char *got;
		int is_elf;

		if (e->type != TAR_FILE || !(e->mode & 0111) || is_firmware(e->path) || !image_view_is_visible(v, i))
			continue;
		buf_reset(&path);
		if (buf_addf(&path, "/%s", e->path) < 0 || view_elf_ident(&id, &is_elf, e, path.data) < 0)
			goto out;
		if (!is_elf || (id.type != ET_EXEC && id.type != ET_DYN) || id.machine == EM_BPF)
			continue;
		got = elf_oci_arch(&id);
		if (!got || strcmp(got, arch) != 0) {
			mismatch(path.data, &id, got, arch);
			goto out;
		}
		(*count)++;
	}
	ret = 0;
out:
	buf_release(&path);
	return ret;
}

/* The entrypoint: present, and when an ELF file, built for arch. */
static int check_entrypoint(struct stw_verify_report *r, const struct image_view *v, json_t *cfg,
			    const char *arch)
{
	const struct view_entry *e;
	struct elf_ident id;
	char machine[32];
	const char *got;
	int is_elf;

	if (image_view_find_program(&r->entrypoint_path, &e, v, cfg, r->entrypoint) < 0)
		return -1;
	if (view_elf_ident(&id, &is_elf, e, r->entrypoint_path) < 0)
		return -1;
	if (!is_elf) {
		unsigned char head[2];
		size_t got_len;
		int script = image_view_head(e, head, sizeof(head), &got_len) == 0 && got_len == 2 &&
			     head[0] == '#' && head[1] == '!';
		return verify_set_string(&r->note, script ? "the entrypoint is a script: its interpreter is not checked"
						   : "the entrypoint is not an ELF file");
	}
	got = elf_oci_arch(&id);
	elf_machine_name(machine, sizeof(machine), &id);
	if (!got || strcmp(got, arch) != 0)
		return mismatch(r->entrypoint_path, &id, got, arch);
	if (verify_set_string(&r->entrypoint_arch, got) < 0 || verify_set_string(&r->entrypoint_machine, machine) < 0)
		return -1;
	return 0;
}

int verify_report_config(struct stw_verify_report *r, json_t *cfg)
{
	const char *program;

	if (!json_is_string(json_object_get(cfg, "architecture")))
		return stw_error("the image config names no architecture");
	if (verify_set_string(&r->architecture, json_string_value(json_object_get(cfg, "architecture"))) < 0 ||
	    verify_set_string(&r->os, json_string_value(json_object_get(cfg, "os"))) < 0 ||
	    verify_set_string(&r->variant, json_string_value(json_object_get(cfg, "variant"))) < 0)
		return -1;
	program = configured_program(cfg);
	if (program && !*program)
		return stw_error("the image config's entrypoint is an empty string");
	return verify_set_string(&r->entrypoint, program);
}

int verify_view(struct stw_verify_report *r, json_t *cfg, const struct image_view *v)
{
	/* the entrypoint first: when it is wrong, it is the file to name */
	if (r->entrypoint && check_entrypoint(r, v, cfg, r->architecture) < 0)
		return -1;
	if (check_elf_files(&r->elf_files, v, r->architecture) < 0)
		return -1;
	if (!r->entrypoint && !r->elf_files &&
	    verify_set_string(&r->note, "no entrypoint and no ELF files: nothing to check the architecture against") < 0)
		return -1;
	if (!r->entrypoint && r->elf_files && !r->note && verify_set_string(&r->note, "the config names no entrypoint") < 0)
		return -1;
	return 0;
}

/* The local image's layers, bottom first, as a view whose files are read
 * from the store. */
static int view_collect(struct image_view *v, const struct stw_image *img)
{
	for (size_t i = 0; i < img->layer_count; i++) {
		struct tree t;
		int rc = 0;

		tree_init(&t);
		if (tree_collect(&t, &img->layers[i]) < 0)
			rc = -1;
		for (size_t k = 0; rc == 0 && k < t.count; k++) {
			const struct tree_entry *te = &t.entries[k];
			struct view_entry e = { .path = te->tar_path, .link = te->link, .source = te->source,
						.type = te->type, .mode = te->mode, .layer = i };
			rc = image_view_add(v, &e);
		}
		tree_release(&t);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int verify_architecture(struct stw_verify_report *r, const struct stw_image *img)
{
	struct image_view view;
	json_error_t err;
	json_t *cfg = NULL;
	int ret = -1;

	image_view_init(&view);
	if (!(cfg = json_loads(img->config_json, 0, &err))) {
		stw_error("cannot read the image config: %s", err.text);
		goto out;
	}
	if (verify_report_config(r, cfg) < 0 || view_collect(&view, img) < 0 || verify_view(r, cfg, &view) < 0)
		goto out;
	ret = 0;
out:
	image_view_release(&view);
	json_decref(cfg);
	return ret;
}

static const char *first_path(const struct stw_layer *layer)
{
	return layer->path_count ? layer->paths[0].path : "(empty layer)";
}

static int verify_digests(struct stw_verify_report *r, const struct stw_image *img)
{
	for (size_t i = 0; i < img->layer_count; i++) {
		const struct stw_layer *l = &img->layers[i];
		struct layer_digests d;
		const char *field = NULL, *now = NULL, *recorded = NULL;
		char now_size[32], recorded_size[32];

		if (layer_compute(l, NULL, &d) < 0)
			return stw_error_wrap("layer %zu holding '%s'", i, first_path(l));
		if (strcmp(d.diff_id, l->diff_id) != 0) {
			field = "diff_id", now = d.diff_id, recorded = l->diff_id;
		} else if (d.tar_size != l->tar_size) {
			snprintf(now_size, sizeof(now_size), "%llu", (unsigned long long)d.tar_size);
			snprintf(recorded_size, sizeof(recorded_size), "%llu", (unsigned long long)l->tar_size);
			field = "tar_size", now = now_size, recorded = recorded_size;
		} else if (strcmp(d.digest, l->digest) != 0) {
			field = "digest", now = d.digest, recorded = l->digest;
		} else if (d.size != l->size) {
			snprintf(now_size, sizeof(now_size), "%llu", (unsigned long long)d.size);
			snprintf(recorded_size, sizeof(recorded_size), "%llu", (unsigned long long)l->size);
			field = "size", now = now_size, recorded = recorded_size;
		}
		if (field)
			return stw_error("layer %zu holding '%s' no longer matches its recorded %s (now %s, recorded %s): "
					 "rebuild the image",
					 i, first_path(l), field, now, recorded);
		r->layers_verified++;
	}
	return 0;
}

int stw_verify(struct stw_verify_report *out, const struct stw_image *img, int check_digests)
{
	stw_verify_report_init(out);
	if (img->has_config) {
		if (verify_architecture(out, img) < 0)
			return -1;
	} else if (verify_set_string(&out->note, "a layer JSON has no config: architecture not checked") < 0) {
		return -1;
	}
	if (check_digests && verify_digests(out, img) < 0)
		return -1;
	return 0;
}
