#include "json_text.h"
#include "buf.h"

struct dump_target {
	struct buf text;
	int failed; /* a write failed, whatever jansson went on to do */
};

static int append(const char *data, size_t len, void *ctx)
{
	struct dump_target *t = ctx;

	if (buf_add(&t->text, data, len) < 0) {
		t->failed = 1;
		return -1;
	}
	return 0;
}

char *stw_json_dumps(const json_t *json, size_t flags)
{
	struct dump_target t = { .failed = 0 };
	char *text;

	buf_init(&t.text);
	if (json_dump_callback(json, append, &t, flags) != 0 || t.failed) {
		buf_release(&t.text);
		return NULL;
	}
	text = buf_detach(&t.text, NULL);
	return text;
}
