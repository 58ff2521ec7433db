#include "cli.h"
#include "json_text.h"
#include "registry_args.h"
#include "stowage/copy.h"
#include "stowage/error.h"
#include "stowage/image.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
	"usage: stowage inspect IMAGE.json [--json]\n"
	"\n"
	"Shows an image (or layer) JSON: architecture, config, and each layer's\n"
	"digest, size and store paths. --json prints the same as JSON, with the\n"
	"manifest digest the image will have.\n"
	"\n"
	"       stowage inspect docker://HOST[:PORT]/REPO[:TAG|@DIGEST] [--json] [options]\n"
	"\n"
	"Shows a registry's manifest (or index) and the image config.\n"
	"\n" REGISTRY_OPTIONS_HELP;

/* A JSON string's text, or "-" where a (remote) config lacks it: never NULL into printf. */
static const char *text_of(json_t *j)
{
	return json_is_string(j) ? json_string_value(j) : "-";
}

static int print_config(const struct stw_image *img)
{
	json_t *cfg = json_loads(img->config_json, 0, NULL);
	json_t *c = json_object_get(cfg, "config");
	const char *variant = json_string_value(json_object_get(cfg, "variant"));
	char *entry = stw_json_dumps(json_object_get(c, "Entrypoint"), JSON_COMPACT | JSON_ENCODE_ANY);
	char *cmd = stw_json_dumps(json_object_get(c, "Cmd"), JSON_COMPACT | JSON_ENCODE_ANY);

	if (!cfg) { /* the image JSON's config was read once already: only memory can fail here */
		free(entry);
		free(cmd);
		return cli_fail("out of memory");
	}
	printf("platform:   %s/%s%s%s\n", text_of(json_object_get(cfg, "os")),
	       text_of(json_object_get(cfg, "architecture")), variant ? "/" : "", variant ? variant : "");
	printf("created:    %s\n", text_of(json_object_get(cfg, "created")));
	if (entry)
		printf("entrypoint: %s\n", entry);
	if (cmd)
		printf("cmd:        %s\n", cmd);
	printf("config:     %s\n", img->config_digest);
	free(entry);
	free(cmd);
	json_decref(cfg);
	return 0;
}

static int print_human(const struct stw_image *img)
{
	unsigned long long total = 0, tar_total = 0;
	char size[32], tar[32];
	char *manifest = NULL;

	if (img->name)
		printf("image:      %s:%s\n", img->name, img->tag ? img->tag : "latest");
	if (img->has_config) {
		if (print_config(img))
			return 1;
		if (stw_image_manifest(&manifest, img) == 0)
			free(manifest);
	}
	printf("layers:     %zu\n\n", img->layer_count);
	for (size_t i = 0; i < img->layer_count; i++) {
		const struct stw_layer *l = &img->layers[i];
		total += l->size;
		tar_total += l->tar_size;
		cli_format_bytes(size, sizeof(size), l->size);
		cli_format_bytes(tar, sizeof(tar), l->tar_size);
		printf("%3zu  %.19s  %10s  (%s %s, tar %s)\n", i, l->digest, size, stw_compression_name(l->compression),
		       "blob", tar);
		for (size_t k = 0; k < l->path_count; k++)
			printf("       %s%s\n", l->paths[k].path, l->paths[k].rewrite_regex ? "  -> /" : "");
	}
	cli_format_bytes(size, sizeof(size), total);
	cli_format_bytes(tar, sizeof(tar), tar_total);
	printf("\ntotal:      %s in blobs, %s uncompressed\n", size, tar);
	return 0;
}

static int print_json(const struct stw_image *img)
{
	json_t *root = json_object(), *layers = json_array();
	char *manifest = NULL, *text;

	for (size_t i = 0; i < img->layer_count; i++) {
		const struct stw_layer *l = &img->layers[i];
		json_t *paths = json_array();
		for (size_t k = 0; k < l->path_count; k++)
			json_array_append_new(paths, json_string(l->paths[k].path));
		json_array_append_new(layers, json_pack("{s:s,s:s,s:I,s:I,s:s,s:o}", "digest", l->digest, "diff_id",
							l->diff_id, "size", (json_int_t)l->size, "tar_size",
							(json_int_t)l->tar_size, "media_type",
							stw_layer_media_type(l->compression), "paths", paths));
	}
	json_object_set_new(root, "layers", layers);
	if (img->name)
		json_object_set_new(root, "name", json_string(img->name));
	if (img->tag)
		json_object_set_new(root, "tag", json_string(img->tag));
	if (img->has_config) {
		char digest[72];
		json_object_set_new(root, "config", json_loads(img->config_json, 0, NULL));
		json_object_set_new(root, "config_digest", json_string(img->config_digest));
		if (stw_image_manifest(&manifest, img) < 0 || stw_manifest_digest(digest, manifest) < 0) {
			json_decref(root);
			free(manifest);
			return cli_fail_lib();
		}
		/* the digest registries and layouts will know the image by */
		json_object_set_new(root, "manifest", json_loads(manifest, 0, NULL));
		json_object_set_new(root, "manifest_digest", json_string(digest));
	}
	text = stw_json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text)
		puts(text);
	free(text);
	free(manifest);
	json_decref(root);
	return text ? 0 : cli_fail("out of memory");
}

/* A registry's manifest (or index) and config. */
static int inspect_remote(const char *ref, struct registry_args *args)
{
	char *text = NULL;
	json_t *root, *cfg, *layers;
	size_t i;
	json_t *l;

	registry_args_finish(args);
	if (stw_remote_inspect(&text, ref, &args->opts) < 0)
		return cli_fail_lib();
	if (args->json) {
		puts(text);
		free(text);
		return 0;
	}
	root = json_loads(text, 0, NULL);
	free(text);
	cfg = json_object_get(root, "config");
	printf("reference:  %s\n", ref);
	printf("digest:     %s\n", text_of(json_object_get(root, "manifest_digest")));
	printf("media type: %s\n", text_of(json_object_get(root, "media_type")));
	if (cfg)
		printf("platform:   %s/%s%s%s\n", text_of(json_object_get(cfg, "os")),
		       text_of(json_object_get(cfg, "architecture")),
		       json_object_get(cfg, "variant") ? "/" : "",
		       json_object_get(cfg, "variant") ? text_of(json_object_get(cfg, "variant")) : "");
	if (json_object_get(json_object_get(root, "manifest"), "config")) {
		json_t *c = json_object_get(cfg, "config");
		char *entry = stw_json_dumps(json_object_get(c, "Entrypoint"), JSON_COMPACT | JSON_ENCODE_ANY);
		char *cmd = stw_json_dumps(json_object_get(c, "Cmd"), JSON_COMPACT | JSON_ENCODE_ANY);
		if (entry)
			printf("entrypoint: %s\n", entry);
		if (cmd)
			printf("cmd:        %s\n", cmd);
		printf("config:     %s\n", json_string_value(json_object_get(
						  json_object_get(json_object_get(root, "manifest"), "config"), "digest")));
		free(entry);
		free(cmd);
	}
	layers = json_object_get(json_object_get(root, "manifest"), "layers");
	json_array_foreach(layers, i, l) {
		char size[32];
		cli_format_bytes(size, sizeof(size), (unsigned long long)json_integer_value(json_object_get(l, "size")));
		printf("%3zu  %.19s  %10s\n", i, json_string_value(json_object_get(l, "digest")), size);
	}
	layers = json_object_get(json_object_get(root, "manifest"), "manifests");
	json_array_foreach(layers, i, l) {
		json_t *p = json_object_get(l, "platform");
		printf("%3zu  %.19s  %s/%s%s%s\n", i, json_string_value(json_object_get(l, "digest")),
		       json_string_value(json_object_get(p, "os")), json_string_value(json_object_get(p, "architecture")),
		       json_object_get(p, "variant") ? "/" : "",
		       json_object_get(p, "variant") ? json_string_value(json_object_get(p, "variant")) : "");
	}
	json_decref(root);
	return 0;
}

int cmd_inspect(int argc, char **argv)
{
	struct stw_image *img = NULL;
	struct registry_args args;
	int json, rc = registry_args_parse(&args, argc, argv, "inspect", help);

	if (rc)
		return rc < 0 ? 0 : rc;
	json = args.json;
	if (argc - optind != 1)
		return cli_usage("inspect", "expected one IMAGE.json or docker://REF");
	if (!strncmp(argv[optind], "docker://", 9))
		return inspect_remote(argv[optind] + 9, &args);
	if (stw_image_load(&img, argv[optind]) < 0)
		return cli_fail_lib();
	rc = json ? print_json(img) : print_human(img);
	stw_image_free(img);
	return rc;
}
