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

/* As Linux's MAXSYMLINKS. */
#define SYMLINK_HOPS 40
/* The PATH a runtime uses when the config sets none. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

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

/* Reads up to len bytes from the start of path into data. */
static int read_head(unsigned char *data, size_t len, size_t *got, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	size_t have = 0;

	if (fd < 0)
		return stw_error_errno("cannot open '%s'", path);
	while (have < len) {
		ssize_t n = read(fd, data + have, len - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			stw_error_errno("cannot read '%s'", path);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	*got = have;
	return 0;
}

int elf_ident_read(struct elf_ident *out, int *is_elf, const char *path)
{
	unsigned char head[ELF_HEADER_SIZE];
	size_t got;

	memset(out, 0, sizeof(*out));
	*is_elf = 0;
	if (read_head(head, sizeof(head), &got, path) < 0)
		return -1;
	return elf_ident_parse(out, is_elf, head, got, path);
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
	stw_verify_report_init(r);
}

static int set_string(char **field, const char *value)
{
	char *copy = NULL;

	if (value && !(copy = strdup(value)))
		return stw_error("out of memory");
	free(*field);
	*field = copy;
	return 0;
}

/* Every entry of the image, and which one a reader sees at each path. */
struct image_files {
	struct tree *trees; /* one per layer, bottom first */
	size_t tree_count;
	const struct tree_entry **entries;
	size_t entry_count;
	struct strmap visible; /* tar path -> index in entries: the top layer's */
};

static void image_files_release(struct image_files *f)
{
	strmap_release(&f->visible);
	free(f->entries);
	for (size_t i = 0; i < f->tree_count; i++)
		tree_release(&f->trees[i]);
	free(f->trees);
}

static int image_files_collect(struct image_files *f, const struct stw_image *img)
{
	size_t total = 0;

	memset(f, 0, sizeof(*f));
	strmap_init(&f->visible);
	if (img->layer_count && !(f->trees = calloc(img->layer_count, sizeof(*f->trees))))
		return stw_error("out of memory");
	for (size_t i = 0; i < img->layer_count; i++) {
		tree_init(&f->trees[i]);
		f->tree_count++;
		if (tree_collect(&f->trees[i], &img->layers[i]) < 0)
			return -1;
		total += f->trees[i].count;
	}
	if (total && !(f->entries = calloc(total, sizeof(*f->entries))))
		return stw_error("out of memory");
	for (size_t i = 0; i < f->tree_count; i++) {
		for (size_t k = 0; k < f->trees[i].count; k++) {
			const struct tree_entry *e = &f->trees[i].entries[k];
			/* bottom first: a higher layer's entry overwrites a lower one's */
			if (strmap_put(&f->visible, e->tar_path, f->entry_count) < 0)
				return -1;
			f->entries[f->entry_count++] = e;
		}
	}
	return 0;
}

static const struct tree_entry *image_files_get(const struct image_files *f, const char *tar_path)
{
	size_t i;

	return strmap_get(&f->visible, tar_path, &i) ? f->entries[i] : NULL;
}

static void buf_truncate(struct buf *b, size_t len)
{
	b->len = len;
	b->data[len] = 0;
}

/* Resolves an absolute image path to the regular file a reader of the
 * image would open, following symlinks inside the image. *out_path is the
 * file's image path ("/nix/store/...-fd/bin/fd"; caller frees). */
static int image_resolve(char **out_path, const struct tree_entry **out_entry, const struct image_files *f,
			 const char *path)
{
	struct buf done, rest, next;
	const struct tree_entry *e = NULL;
	size_t pos = 0;
	int hops = 0, ret = -1;

	buf_init(&done);
	buf_init(&rest);
	buf_init(&next);
	if (buf_adds(&rest, path) < 0)
		goto out;
	for (;;) {
		const char *p = rest.data + pos, *slash, *more;
		size_t n, parent_len = done.len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		pos = (size_t)(p - rest.data) + n;
		if (n == 1 && p[0] == '.')
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *cut = strrchr(done.data, '/');
			buf_truncate(&done, cut ? (size_t)(cut - done.data) : 0);
			e = done.len ? image_files_get(f, done.data) : NULL;
			continue;
		}
		if ((done.len && buf_addch(&done, '/') < 0) || buf_add(&done, p, n) < 0)
			goto out;
		if (!(e = image_files_get(f, done.data))) {
			stw_error("'/%s' is not in the image", done.data);
			goto out;
		}
		if (e->type == TAR_SYMLINK) {
			if (++hops > SYMLINK_HOPS) {
				stw_error("too many levels of symbolic links at '/%s'", done.data);
				goto out;
			}
			/* the rest of the path, now under the link's target */
			buf_reset(&next);
			if (buf_adds(&next, e->link) < 0 || buf_addch(&next, '/') < 0 ||
			    buf_adds(&next, rest.data + pos) < 0)
				goto out;
			buf_truncate(&done, e->link[0] == '/' ? 0 : parent_len);
			{
				struct buf swap = rest;
				rest = next;
				next = swap;
			}
			pos = 0;
			continue;
		}
		for (more = rest.data + pos; *more == '/'; more++)
			;
		if (*more && e->type != TAR_DIR) {
			stw_error("'/%s' is not a directory", done.data);
			goto out;
		}
	}
	if (!e || e->type != TAR_FILE) {
		stw_error("'/%s' is not a regular file", done.data);
		goto out;
	}
	buf_reset(&next);
	if (buf_addch(&next, '/') < 0 || buf_adds(&next, done.data) < 0)
		goto out;
	*out_path = buf_detach(&next, NULL);
	*out_entry = e;
	ret = 0;
out:
	buf_release(&next);
	buf_release(&rest);
	buf_release(&done);
	return ret;
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

/* The PATH a runtime searches for a program without a '/'. */
static const char *configured_path(json_t *cfg)
{
	json_t *env = json_object_get(json_object_get(cfg, "config"), "Env"), *v;
	size_t i;

	json_array_foreach(env, i, v) {
		const char *s = json_string_value(v);
		if (s && !strncmp(s, "PATH=", 5))
			return s + 5;
	}
	return DEFAULT_PATH;
}

/* Finds the configured program in the image as a runtime would: through
 * PATH without a '/', against WorkingDir when relative. */
static int find_program(char **out_path, const struct tree_entry **out_entry, const struct image_files *f,
			json_t *cfg, const char *program)
{
	struct buf candidate;
	int ret = -1;

	buf_init(&candidate);
	if (program[0] == '/') {
		ret = image_resolve(out_path, out_entry, f, program);
	} else if (strchr(program, '/')) {
		const char *dir = json_string_value(json_object_get(json_object_get(cfg, "config"), "WorkingDir"));
		if (buf_addf(&candidate, "%s/%s", dir && *dir ? dir : "/", program) == 0)
			ret = image_resolve(out_path, out_entry, f, candidate.data);
	} else {
		const char *path = configured_path(cfg);
		for (const char *dir = path; ret < 0 && *dir;) {
			size_t n = strcspn(dir, ":");
			buf_reset(&candidate);
			if (n && dir[0] == '/') {
				if (buf_add(&candidate, dir, n) < 0 || buf_addf(&candidate, "/%s", program) < 0)
					break;
				ret = image_resolve(out_path, out_entry, f, candidate.data);
			}
			dir += n + (dir[n] == ':');
		}
		if (ret < 0)
			stw_error("not found in the image's PATH '%s'", path);
	}
	if (ret < 0)
		stw_error_wrap("entrypoint '%s'", program);
	buf_release(&candidate);
	return ret;
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
static int check_elf_files(size_t *count, const struct image_files *f, const char *arch)
{
	struct buf path;
	int ret = -1;

	buf_init(&path);
	*count = 0;
	for (size_t i = 0; i < f->entry_count; i++) {
		const struct tree_entry *e = f->entries[i];
		struct elf_ident id;
		const char *got;
		int is_elf;

		if (e->type != TAR_FILE || !(e->mode & 0111) || !e->source || is_firmware(e->tar_path) ||
		    image_files_get(f, e->tar_path) != e)
			continue;
		if (elf_ident_read(&id, &is_elf, e->source) < 0)
			goto out;
		if (!is_elf || (id.type != ET_EXEC && id.type != ET_DYN) || id.machine == EM_BPF)
			continue;
		got = elf_oci_arch(&id);
		if (!got || strcmp(got, arch) != 0) {
			buf_reset(&path);
			if (buf_addf(&path, "/%s", e->tar_path) == 0)
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
static int check_entrypoint(struct stw_verify_report *r, const struct image_files *f, json_t *cfg,
			    const char *arch)
{
	const struct tree_entry *e;
	struct elf_ident id;
	char machine[32];
	const char *got;
	int is_elf;

	if (find_program(&r->entrypoint_path, &e, f, cfg, r->entrypoint) < 0)
		return -1;
	if (elf_ident_read(&id, &is_elf, e->source) < 0)
		return -1;
	if (!is_elf) {
		unsigned char head[2];
		size_t got_len;
		int script = read_head(head, sizeof(head), &got_len, e->source) == 0 && got_len == 2 &&
			     head[0] == '#' && head[1] == '!';
		return set_string(&r->note, script ? "the entrypoint is a script: its interpreter is not checked"
						   : "the entrypoint is not an ELF file");
	}
	got = elf_oci_arch(&id);
	elf_machine_name(machine, sizeof(machine), &id);
	if (!got || strcmp(got, arch) != 0)
		return mismatch(r->entrypoint_path, &id, got, arch);
	if (set_string(&r->entrypoint_arch, got) < 0 || set_string(&r->entrypoint_machine, machine) < 0)
		return -1;
	return 0;
}

static int verify_architecture(struct stw_verify_report *r, const struct stw_image *img)
{
	struct image_files files;
	json_error_t err;
	json_t *cfg = NULL;
	const char *program;
	int ret = -1;

	memset(&files, 0, sizeof(files));
	strmap_init(&files.visible);
	if (!(cfg = json_loads(img->config_json, 0, &err))) {
		stw_error("cannot read the image config: %s", err.text);
		goto out;
	}
	if (!json_is_string(json_object_get(cfg, "architecture"))) {
		stw_error("the image config names no architecture");
		goto out;
	}
	if (set_string(&r->architecture, json_string_value(json_object_get(cfg, "architecture"))) < 0 ||
	    set_string(&r->os, json_string_value(json_object_get(cfg, "os"))) < 0 ||
	    set_string(&r->variant, json_string_value(json_object_get(cfg, "variant"))) < 0)
		goto out;
	program = configured_program(cfg);
	if (program && !*program) {
		stw_error("the image config's entrypoint is an empty string");
		goto out;
	}
	if (set_string(&r->entrypoint, program) < 0)
		goto out;
	if (image_files_collect(&files, img) < 0)
		goto out;
	/* the entrypoint first: when it is wrong, it is the file to name */
	if (program && check_entrypoint(r, &files, cfg, r->architecture) < 0)
		goto out;
	if (check_elf_files(&r->elf_files, &files, r->architecture) < 0)
		goto out;
	if (!program && !r->elf_files && set_string(&r->note, "no entrypoint and no ELF files: nothing to check "
							      "the architecture against") < 0)
		goto out;
	if (!program && r->elf_files && !r->note && set_string(&r->note, "the config names no entrypoint") < 0)
		goto out;
	ret = 0;
out:
	image_files_release(&files);
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
	} else if (set_string(&out->note, "a layer JSON has no config: architecture not checked") < 0) {
		return -1;
	}
	if (check_digests && verify_digests(out, img) < 0)
		return -1;
	return 0;
}
