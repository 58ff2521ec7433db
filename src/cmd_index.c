#include "cli.h"
#include "registry_args.h"
#include "stowage/error.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
	"usage: stowage index --tag HOST[:PORT]/REPO:TAG HOST[:PORT]/REPO@sha256:... ... [options]\n"
	"\n"
	"Pushes a multi-architecture image index (OCI; a Docker manifest list with\n"
	"--format v2s2) listing images already pushed to the same repository, by\n"
	"digest. Each entry's platform (os, architecture, variant) comes from that\n"
	"image's config.\n"
	"\n"
	"  --tag HOST/REPO:TAG     where the index goes (required)\n"
	"  --annotation K=V        an annotation on the index (repeatable; OCI only)\n"
	"\n" REGISTRY_OPTIONS_HELP;

enum { OPT_TAG = 2000, OPT_ANNOTATION };

int cmd_index(int argc, char **argv)
{
	static const struct option options[] = {
		REGISTRY_LONG_OPTIONS,
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "annotation", required_argument, NULL, OPT_ANNOTATION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct registry_args args;
	struct strlist annotations = { 0 };
	const char *tag = NULL;
	char digest[72];
	int opt, rc = 0;

	registry_args_init(&args);
	optind = 1;
	opterr = 0;
	while (!rc && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'h') {
			fputs(help, stdout);
			goto out;
		} else if (opt == OPT_TAG) {
			tag = optarg;
		} else if (opt == OPT_ANNOTATION) {
			if (strlist_push(&annotations, optarg) < 0)
				rc = cli_fail("out of memory");
		} else {
			rc = registry_args_option(&args, opt, optarg, "index");
			if (rc == 0)
				rc = cli_usage("index", "unknown or incomplete option '%s'", argv[optind - 1]);
			else if (rc == 1)
				rc = 0;
		}
	}
	if (rc)
		goto out;
	if (!tag || optind >= argc) {
		rc = cli_usage("index", "expected --tag HOST/REPO:TAG and at least one HOST/REPO@sha256:...");
		goto out;
	}
	registry_args_finish(&args);
	if (stw_index(digest, tag, (const char *const *)argv + optind, (size_t)(argc - optind),
		      (const char *const *)annotations.items, annotations.count, &args.opts) < 0) {
		rc = cli_fail_lib();
		goto out;
	}
	rc = registry_args_write_digest(&args, digest);
	if (!rc && args.json)
		printf("{\"index\":\"%s\",\"manifest_digest\":\"%s\",\"images\":%d}\n", tag, digest, argc - optind);
	else if (!rc)
		fprintf(stderr, "stowage: pushed index %s %s (%d images)\n", tag, digest, argc - optind);
out:
	strlist_release(&annotations);
	return rc;
}
