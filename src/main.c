/* stowage: the command table, as libgit2's CLI does it. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#define STOWAGE_VERSION "0.1.0"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "build", cmd_build, "build an image JSON from a Nix closure" },
	{ "layer", cmd_layer, "build a reusable layer JSON (a shared base layer)" },
	{ "copy", cmd_copy, "deliver an image to an OCI layout, an archive or stdout" },
	{ "push", cmd_push, "push an image to a registry (copy to docker://)" },
	{ "tag", cmd_tag, "add tags to a pushed image, server-side" },
	{ "verify", cmd_verify, "check an image's architecture against its binaries, and its digests" },
	{ "index", cmd_index, "push a multi-architecture index of pushed images" },
	{ "release", cmd_release, "publish per-architecture images, index and tags in one go" },
	{ "inspect", cmd_inspect, "show an image's layers, sizes and store paths, or a remote one" },
};

static int usage(FILE *out)
{
	fprintf(out, "usage: stowage <command> [options]\n\n"
		     "Turns Nix store closures into OCI container images.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'stowage <command> --help' tells more about each.\n");
	return out == stdout ? 0 : EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return usage(stdout);
	if (!strcmp(argv[1], "--version")) {
		printf("stowage %s\n", STOWAGE_VERSION);
		return 0;
	}
	cli_cleanup_on_signals();
	cli_zero_json_memory();
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "stowage: unknown command '%s' (see 'stowage --help')\n", argv[1]);
	return EXIT_USAGE;
}
