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
	struct registry_args args;
	int rc = registry_args_parse(&args, argc, argv, "push", help);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (argc - optind != 2)
		return cli_usage("push", "expected IMAGE.json and HOST/REPO[:TAG]");
	return push_run(argv[optind], argv[optind + 1], &args);
}
