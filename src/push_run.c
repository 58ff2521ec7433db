#include "push_run.h"
#include "cli.h"
#include "json_text.h"
#include "progress.h"
#include "stowage/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static int print_json(const struct stw_push_result *r)
{
	json_t *layers = json_array(), *out;
	char *text;

	for (size_t i = 0; i < r->layer_count; i++) {
		const struct stw_push_blob *b = &r->layers[i];
		json_t *l = json_pack("{s:s,s:I,s:s}", "digest", b->digest, "size", (json_int_t)b->size, "action",
				      stw_blob_action_name(b->action));
		if (b->action == STW_BLOB_MOUNTED)
			json_object_set_new(l, "mounted_from", json_string(b->mounted_from));
		json_array_append_new(layers, l);
	}
	out = json_pack("{s:s+,s:s,s:I,s:I,s:I,s:I,s:o,s:{s:s,s:s}}", "destination", "docker://", r->reference,
			"manifest_digest", r->manifest_digest, "bytes_uploaded", (json_int_t)r->bytes_uploaded,
			"bytes_skipped", (json_int_t)r->bytes_skipped, "bytes_mounted", (json_int_t)r->bytes_mounted,
			"layers_from_cache", (json_int_t)r->layers_from_cache, "layers", layers, "config", "digest", r->config.digest, "action",
			stw_blob_action_name(r->config.action));
	text = stw_json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(out);
	if (!text)
		return cli_fail("out of memory");
	puts(text);
	free(text);
	return 0;
}

static void print_summary(const struct stw_push_result *r)
{
	size_t counts[3] = { 0 };
	char sent[32];

	for (size_t i = 0; i < r->layer_count; i++)
		counts[r->layers[i].action]++;
	cli_format_bytes(sent, sizeof(sent), r->bytes_uploaded);
	fprintf(stderr, "stowage: pushed %s %s (%zu uploaded, %zu skipped, %zu mounted; %s sent)\n", r->reference,
		r->manifest_digest, counts[STW_BLOB_UPLOADED], counts[STW_BLOB_SKIPPED], counts[STW_BLOB_MOUNTED],
		sent);
}

int push_run(const char *image_path, const char *ref, struct registry_args *args)
{
	struct stw_image *img = NULL;
	struct stw_push_result result;
	struct progress_view view;
	int rc;

	if ((rc = registry_args_finish(args)))
		return rc;
	progress_view_init(&view);
	if (!args->json) {
		args->opts.progress = progress_view_update;
		args->opts.progress_ctx = &view;
	}
	if (stw_image_load(&img, image_path) < 0) {
		progress_view_release(&view);
		return cli_fail_lib();
	}
	if (stw_push(&result, img, ref, &args->opts) < 0) {
		rc = cli_fail_lib();
	} else {
		rc = registry_args_write_digest(args, result.manifest_digest);
		if (!rc && args->json)
			rc = print_json(&result);
		else if (!rc)
			print_summary(&result);
	}
	stw_push_result_release(&result);
	stw_image_free(img);
	progress_view_release(&view);
	return rc;
}
