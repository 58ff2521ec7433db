/* Image and layer JSON (stowage's own and nix2container's): parse, then
 * everything derived from a parsed image (canonical JSON, manifests). */
#include "fuzz.h"
#include "manifest.h"
#include "stowage/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stw_image *img = NULL, *again = NULL;
	char *text = NULL, *manifest = NULL;

	if (stw_image_parse(&img, (const char *)data, size, "fuzz") < 0)
		return 0;
	/* what stowage writes it must read back */
	if (stw_image_to_json(&text, img) == 0 && stw_image_parse(&again, text, strlen(text), "again") < 0)
		abort();
	if (img->has_config) {
		free(manifest);
		manifest = NULL;
		if (stw_image_manifest_as(&manifest, img, 0) == 0) {
			free(manifest);
			manifest = NULL;
		}
		if (stw_image_manifest_as(&manifest, img, 1) == 0) {
			free(manifest);
			manifest = NULL;
		}
		docker_archive_manifest(&manifest, img, "fuzz:1");
	}
	free(manifest);
	free(text);
	stw_image_free(again);
	stw_image_free(img);
	return 0;
}
