/*
 * Internal pieces of stw_verify (stowage/verify.h): reading an ELF header
 * and naming its machine as an OCI architecture.
 */
#ifndef STW_LIB_VERIFY_H
#define STW_LIB_VERIFY_H

#include "stowage/verify.h"

#include "image_view.h"

#include <jansson.h>

#define ELF_HEADER_SIZE 64

struct elf_ident {
	unsigned char elf_class; /* ELFCLASS32 (1) or ELFCLASS64 (2) */
	unsigned char data;      /* ELFDATA2LSB (1) or ELFDATA2MSB (2) */
	unsigned type;           /* e_type: ET_EXEC, ET_DYN, ... */
	unsigned machine;        /* e_machine */
};

/* Reads the first bytes of path. Sets *is_elf to 0 (and returns 0) for a
 * file that does not start with "\x7fELF"; fails on an unreadable file or
 * an ELF header with an unknown class or byte order. */
int elf_ident_read(struct elf_ident *out, int *is_elf, const char *path);

/* Parses an ELF header held in memory (len bytes); as elf_ident_read. */
int elf_ident_parse(struct elf_ident *out, int *is_elf, const unsigned char *data, size_t len, const char *origin);

/* The OCI architecture ("amd64", "arm64", "ppc64le", ...) the machine,
 * class and byte order run as, or NULL when there is none. */
const char *elf_oci_arch(const struct elf_ident *e);

/* The machine's usual name ("x86-64", "aarch64"), written to out. */
void elf_machine_name(char *out, size_t len, const struct elf_ident *e);

/* Replaces *field with a copy of value (NULL allowed). */
int verify_set_string(char **field, const char *value);

/* Fills the report's architecture, os, variant and entrypoint from an
 * image config; fails when it names no architecture. */
int verify_report_config(struct stw_verify_report *r, json_t *cfg);

/* The entrypoint and every ELF file of the view against the report's
 * architecture (verify_report_config first). */
int verify_view(struct stw_verify_report *r, json_t *cfg, const struct image_view *v);

#endif
