#include "cli.h"
#include "push_run.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
	"usage: stowage push IMAGE.json HOST[:PORT]/REPO[:TAG] [options]\n"
	"\n"
	"Pushes an image to a registry (the same as 'stowage copy IMAGE.json docker://...').\n"
	"Blobs already there are skipped, blobs stowage pushed to another repository of\n"
	"the registry are mounted, the rest are synthesised from the store and uploaded\n"
	"while hashed; an upload whose content no longer matches the image JSON is\n"
	"cancelled. The manifest goes last, so a failed push publishes nothing.\n"
	"The tag defaults to the image's, then 'latest'.\n"
	"\n" REGISTRY_OPTIONS_HELP;

int cmd_push(int argc, char **argv)
{
	static const struct option options[] = {
		REGISTRY_LONG_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct registry_args args;
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
		rc = registry_args_option(&args, opt, optarg, "push");
		if (rc == 0)
			return cli_usage("push", "unknown or incomplete option '%s'", argv[optind - 1]);
		if (rc != 1)
			return rc;
	}
	if (argc - optind != 2)
		return cli_usage("push", "expected IMAGE.json and HOST/REPO[:TAG]");
	return push_run(argv[optind], argv[optind + 1], &args);
}
