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
	static const struct option options[] = {
		REGISTRY_LONG_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct registry_args args;
	char digest[72];
	int opt;

	registry_args_init(&args);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int rc;
		if (opt == 'h') {
			fputs(help, stdout);
			return 0;
		}
		rc = registry_args_option(&args, opt, optarg, "tag");
		if (rc == 0)
			return cli_usage("tag", "unknown or incomplete option '%s'", argv[optind - 1]);
		if (rc != 1)
			return rc;
	}
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
