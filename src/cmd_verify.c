#include "cli.h"
#include "stowage/error.h"
#include "stowage/image.h"
#include "stowage/verify.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"usage: stowage verify IMAGE.json [--no-digests] [--json]\n"
	"\n"
	"Checks an image JSON before it is delivered:\n"
	"  - the entrypoint (Entrypoint[0], else Cmd[0]) is in the image, symlinks\n"
	"    followed inside the image, and every ELF executable and shared library\n"
	"    in the image is built for the config's architecture;\n"
	"  - every layer, synthesised again from the store, still has its recorded\n"
	"    digest, diff_id and sizes (skipped with --no-digests).\n"
	"\n"
	"Exits 0 with a summary on stderr (--json: on stdout), or 1 naming the\n"
	"first file or layer at fault.\n";

enum { OPT_NO_DIGESTS = 1000, OPT_JSON };

static void print_summary(const char *name, const struct stw_verify_report *r, int digests)
{
	fprintf(stderr, "stowage: verified %s:", name);
	if (r->architecture)
		fprintf(stderr, " %s", r->architecture);
	if (r->entrypoint_machine)
		fprintf(stderr, " entrypoint %s (ELF %s),", r->entrypoint, r->entrypoint_machine);
	else if (r->entrypoint)
		fprintf(stderr, " entrypoint %s (not ELF),", r->entrypoint);
	else if (r->architecture)
		fputc(',', stderr);
	if (r->architecture)
		fprintf(stderr, " %zu ELF file%s,", r->elf_files, r->elf_files == 1 ? "" : "s");
	if (digests)
		fprintf(stderr, " %zu %s", r->layers_verified,
			r->layers_verified == 1 ? "layer matches its digests" : "layers match their digests");
	else
		fprintf(stderr, " digests not checked");
	if (r->note)
		fprintf(stderr, " (%s)", r->note);
	fputc('\n', stderr);
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int print_json(const char *name, const struct stw_verify_report *r, int digests)
{
	json_t *root = json_object();
	char *text;

	json_object_set_new(root, "image", json_string(name));
	json_object_set_new(root, "architecture", string_or_null(r->architecture));
	json_object_set_new(root, "os", string_or_null(r->os));
	json_object_set_new(root, "variant", string_or_null(r->variant));
	json_object_set_new(root, "entrypoint", string_or_null(r->entrypoint));
	json_object_set_new(root, "entrypoint_path", string_or_null(r->entrypoint_path));
	json_object_set_new(root, "entrypoint_architecture", string_or_null(r->entrypoint_arch));
	json_object_set_new(root, "entrypoint_machine", string_or_null(r->entrypoint_machine));
	json_object_set_new(root, "elf_files", json_integer((json_int_t)r->elf_files));
	json_object_set_new(root, "digests_checked", json_boolean(digests));
	json_object_set_new(root, "layers_verified", json_integer((json_int_t)r->layers_verified));
	json_object_set_new(root, "note", string_or_null(r->note));
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (!text)
		return cli_fail("out of memory");
	puts(text);
	free(text);
	return 0;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option options[] = {
		{ "no-digests", no_argument, NULL, OPT_NO_DIGESTS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stw_verify_report report;
	struct stw_image *img = NULL;
	int opt, digests = 1, json = 0, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case OPT_NO_DIGESTS:
			digests = 0;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			return cli_usage("verify", "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage("verify", "expected one IMAGE.json");
	if (!strncmp(argv[optind], "docker://", 9))
		return cli_fail("verify: a registry image ('%s') is not supported yet: verify its image JSON",
				argv[optind]);
	if (stw_image_load(&img, argv[optind]) < 0)
		return cli_fail_lib();
	if (stw_verify(&report, img, digests) < 0) {
		rc = cli_fail_lib();
	} else {
		rc = 0;
		if (json)
			rc = print_json(argv[optind], &report, digests);
		else
			print_summary(argv[optind], &report, digests);
	}
	stw_verify_report_release(&report);
	stw_image_free(img);
	return rc;
}
