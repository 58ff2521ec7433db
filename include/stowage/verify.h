/*
 * Verifying an image JSON before it is delivered: that the binaries in the
 * image are built for the architecture its config names, and (optionally)
 * that every layer still synthesises to its recorded digests.
 * Ownership: a struct stw_verify_report owns its strings;
 * stw_verify_report_release frees them.
 */
#ifndef STOWAGE_VERIFY_H
#define STOWAGE_VERIFY_H

#include "stowage/image.h"
#include "stowage/registry.h"

#include <stddef.h>

struct stw_verify_report {
	char *architecture;      /* the config's, e.g. "amd64"; NULL for a layer JSON */
	char *os;                /* the config's, e.g. "linux"; NULL when absent */
	char *variant;           /* the config's, e.g. "v8"; NULL when absent */
	char *entrypoint;        /* Entrypoint[0], else Cmd[0], as configured; NULL if none */
	char *entrypoint_path;   /* the file it resolves to in the image, symlinks followed
				    ("/nix/store/...-fd-8.6.0/bin/fd"); NULL if none */
	char *entrypoint_arch;   /* its OCI architecture ("amd64"); NULL unless an ELF file */
	char *entrypoint_machine;/* its ELF machine ("x86-64"); NULL unless an ELF file */
	size_t elf_files;        /* ELF executables and shared libraries checked */
	size_t layers_verified;  /* layers whose digests were recomputed and matched */
	char *note;              /* why something was not checked, or NULL */
	char *digest;            /* a pulled image's manifest digest; NULL for a local one */
	unsigned long long bytes_pulled; /* a pulled image's layer bytes fetched */
};

void stw_verify_report_init(struct stw_verify_report *r);
void stw_verify_report_release(struct stw_verify_report *r);

/* Checks that the entrypoint exists in the image and that it and every
 * other ELF executable or shared library in the image is built for the
 * config's architecture; with check_digests, also re-synthesises every
 * layer and compares its digest, diff_id and sizes with the recorded ones.
 * Fills *out (initialised here; release it on success and on failure) and
 * returns 0, or -1 with a message naming the first file or layer at fault. */
int stw_verify(struct stw_verify_report *out, const struct stw_image *img, int check_digests);

/* What stw_verify_remote found: one report per image, one image for a
 * manifest, one per platform for an index. Owns everything. */
struct stw_verify_remote {
	char *digest;      /* of the manifest or index the reference names */
	char *media_type;
	int is_index;
	struct stw_verify_report *images;
	size_t image_count;
};

void stw_verify_remote_release(struct stw_verify_remote *v);

/* Verifies an image in a registry (HOST[:PORT]/REPO[:TAG|@DIGEST]) as a
 * puller would meet it: every blob is fetched and hashed against its
 * descriptor, every layer decompressed and its tar hashed against the
 * config's diff_id and read, whiteouts applied, and then the entrypoint
 * and every ELF file checked against the config's architecture, as
 * stw_verify does. For an index, every platform's image is verified and its
 * index entry's platform checked against its config. Layer content is
 * streamed, never stored. Fills *out (release it in any case); returns 0,
 * or -1 with a message naming the image, layer or file at fault. */
int stw_verify_remote(struct stw_verify_remote *out, const char *ref, const struct stw_registry_options *opts);

#endif
