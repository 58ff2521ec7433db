/* A pulled layer blob, as `verify docker://` reads it: the first byte picks
 * the compression (none, gzip, zstd), the rest goes through the
 * decompressor and the tar reader in chunks whose sizes come from the
 * data, and every entry lands in an image view, which is then asked to
 * resolve a path through its symlinks. */
#include "fuzz.h"

#include "decompress.h"
#include "error.h"
#include "image_view.h"
#include "tar_reader.h"

static int add_entry(void *ctx, const struct tar_read_entry *e)
{
	struct view_entry v = { .path = (char *)e->path, .link = (char *)e->link, .mode = e->mode,
				.type = (enum tar_type)e->type, .head_len = e->head_len };

	memcpy(v.head, e->head, e->head_len < VIEW_HEAD ? e->head_len : VIEW_HEAD);
	if (e->type != TAR_SYMLINK)
		v.link = NULL;
	return image_view_add(ctx, &v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum stw_compression kinds[] = { STW_COMPRESSION_NONE, STW_COMPRESSION_GZIP,
						      STW_COMPRESSION_ZSTD };
	struct image_view view;
	struct tar_reader reader;
	struct decompress_sink inflate;
	const struct view_entry *found;
	char *path = NULL;
	size_t off = 1, chunk;
	int rc = 0;

	if (size < 2)
		return 0;
	image_view_init(&view);
	if (tar_reader_init(&reader, add_entry, &view, "fuzz") < 0 ||
	    decompress_sink_init(&inflate, kinds[data[0] % 3], "fuzz", &reader.base) < 0)
		abort();
	chunk = 1 + data[1] % 97;
	while (rc == 0 && off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		rc = sink_write(&inflate.base, data + off, n);
		off += n;
		chunk = chunk * 3 % 4099 + 1;
	}
	if (rc == 0)
		(void)sink_finish(&inflate.base);
	if (image_view_resolve(&path, &found, &view, "/bin/sh") == 0 && (!path || found->type != TAR_FILE))
		abort();
	free(path);
	decompress_sink_release(&inflate);
	tar_reader_release(&reader);
	image_view_release(&view);
	return 0;
}
