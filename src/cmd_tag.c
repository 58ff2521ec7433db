#include "cli.h"
#include "registry_args.h"
#include "stowage/error.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
	"usage: stowage tag HOST[:PORT]/REPO[:TAG|@DIGEST] NEWTAG... [options]\n"
	"\n"
	"Adds tags server-side: the manifest is read and put back under each new tag.\n"
	"No blob is uploaded.\n"
	"\n" REGISTRY_OPTIONS_HELP;

int cmd_tag(int argc, char **argv)
{
	struct registry_args args;
	char digest[72];
	int rc = registry_args_parse(&args, argc, argv, "tag", help);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (argc - optind < 2)
		return cli_usage("tag", "expected HOST/REPO:TAG and at least one NEWTAG");
	registry_args_finish(&args);
	if (stw_tag(digest, argv[optind], (const char *const *)argv + optind + 1, (size_t)(argc - optind - 1),
		    &args.opts) < 0)
		return cli_fail_lib();
	if (registry_args_write_digest(&args, digest))
		return 1;
	if (args.json) {
		printf("{\"source\":\"%s\",\"manifest_digest\":\"%s\",\"tags\":[", argv[optind], digest);
		for (int i = optind + 1; i < argc; i++)
			printf("%s\"%s\"", i > optind + 1 ? "," : "", argv[i]);
		printf("]}\n");
	} else {
		fprintf(stderr, "stowage: tagged %s (%s) as", argv[optind], digest);
		for (int i = optind + 1; i < argc; i++)
			fprintf(stderr, " %s", argv[i]);
		fputc('\n', stderr);
	}
	return 0;
}
