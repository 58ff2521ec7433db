#include "cli.h"
#include "json_text.h"
#include "registry_args.h"
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
	"       stowage verify docker://HOST[:PORT]/REPO[:TAG|@DIGEST] [--json] [registry options]\n"
	"\n"
	"Checks an image JSON before it is delivered, or an image (or every image\n"
	"of an index) in a registry as a puller meets it:\n"
	"  - the entrypoint (Entrypoint[0], else Cmd[0]) is in the image, symlinks\n"
	"    followed inside the image, and every ELF executable and shared library\n"
	"    in the image is built for the config's architecture;\n"
	"  - every layer, synthesised again from the store, still has its recorded\n"
	"    digest, diff_id and sizes (skipped with --no-digests);\n"
	"  - docker://: every blob is pulled and hashed against its descriptor, every\n"
	"    layer's tar against the config's diff_id (streamed, never stored), and\n"
	"    an index's platforms against its images' configs.\n"
	"\n"
	"Exits 0 with a summary on stderr (a line per image; --json: on stdout),\n"
	"or 1 naming the first image, layer or file at fault.\n"
	"\n" REGISTRY_OPTIONS_HELP;

enum { OPT_NO_DIGESTS = 2000 };

static void print_summary(const char *name, const struct stw_verify_report *r, int digests)
{
	if (r->digest)
		fprintf(stderr, "stowage: verified %s@%s (%s/%s%s%s):", name, r->digest, r->os ? r->os : "?",
			r->architecture, r->variant ? "/" : "", r->variant ? r->variant : "");
	else
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

static json_t *report_json(const char *name, const struct stw_verify_report *r, int digests)
{
	json_t *root = json_object();

	json_object_set_new(root, "image", json_string(name));
	if (r->digest) {
		json_object_set_new(root, "digest", json_string(r->digest));
		json_object_set_new(root, "bytes_pulled", json_integer((json_int_t)r->bytes_pulled));
	}
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
	return root;
}

/* Prints and frees root. */
static int print_json(json_t *root)
{
	char *text = root ? stw_json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;

	json_decref(root);
	if (!text)
		return cli_fail("out of memory");
	puts(text);
	free(text);
	return 0;
}

static int verify_remote(const char *ref, struct registry_args *args)
{
	struct stw_verify_remote v;
	int rc = 0;

	registry_args_finish(args);
	if (stw_verify_remote(&v, ref, &args->opts) < 0) {
		stw_verify_remote_release(&v);
		return cli_fail_lib();
	}
	if (args->json) {
		json_t *root = json_object(), *images = json_array();
		json_object_set_new(root, "reference", json_string(ref));
		json_object_set_new(root, "digest", json_string(v.digest));
		json_object_set_new(root, "media_type", string_or_null(v.media_type));
		json_object_set_new(root, "index", json_boolean(v.is_index));
		for (size_t i = 0; i < v.image_count; i++)
			json_array_append_new(images, report_json(ref, &v.images[i], 1));
		json_object_set_new(root, "images", images);
		rc = print_json(root);
	} else {
		for (size_t i = 0; i < v.image_count; i++)
			print_summary(ref, &v.images[i], 1);
	}
	stw_verify_remote_release(&v);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option options[] = {
		REGISTRY_LONG_OPTIONS,
		{ "no-digests", no_argument, NULL, OPT_NO_DIGESTS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stw_verify_report report;
	struct registry_args args;
	struct stw_image *img = NULL;
	int opt, digests = 1, rc = 0;

	registry_args_init(&args);
	optind = 1;
	opterr = 0;
	while (!rc && (opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == OPT_NO_DIGESTS) {
			digests = 0;
		} else if (opt == 'h') {
			fputs(help, stdout);
			return 0;
		} else {
			rc = registry_args_option(&args, opt, optarg, "verify");
			rc = rc == 0 ? cli_usage("verify", "unknown or incomplete option '%s'", argv[optind - 1])
				     : rc == 1 ? 0 : rc;
		}
	}
	if (rc)
		return rc;
	if (argc - optind != 1)
		return cli_usage("verify", "expected one IMAGE.json or docker://REF");
	if (!strncmp(argv[optind], "docker://", 9)) {
		if (!digests)
			return cli_usage("verify", "--no-digests is for an image JSON: a pulled image is always hashed");
		return verify_remote(argv[optind] + 9, &args);
	}
	if (stw_image_load(&img, argv[optind]) < 0)
		return cli_fail_lib();
	if (stw_verify(&report, img, digests) < 0) {
		rc = cli_fail_lib();
	} else if (args.json) {
		rc = print_json(report_json(argv[optind], &report, digests));
	} else {
		print_summary(argv[optind], &report, digests);
	}
	stw_verify_report_release(&report);
	stw_image_free(img);
	return rc;
}
