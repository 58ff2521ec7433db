#include "blob_record.h"
#include "atomic_file.h"
#include "buf.h"
#include "error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RECORD (64 * 1024)

static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;

static int record_path(struct buf *b, const char *cache_dir, const char *host, const char *digest)
{
	if (buf_addf(b, "%s/blob-locations/", cache_dir) < 0)
		return -1;
	for (const char *h = host; *h; h++) /* "127.0.0.1:5000" -> "127.0.0.1_5000" */
		if (buf_addch(b, (*h == '/' || *h == ':') ? '_' : *h) < 0)
			return -1;
	return buf_addf(b, "/%s", digest + 7);
}

char *blob_record_find(const char *cache_dir, const char *host, const char *digest, const char *except)
{
	struct buf path, text;
	char *found = NULL, *save = NULL;

	if (!cache_dir)
		return NULL;
	buf_init(&path);
	buf_init(&text);
	if (record_path(&path, cache_dir, host, digest) == 0 && buf_read_file(&text, path.data, MAX_RECORD) == 0)
		for (char *line = strtok_r(text.data, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save))
			if (strcmp(line, except) != 0)
				found = strdup(line);
	buf_release(&path);
	buf_release(&text);
	return found;
}

void blob_record_add(const char *cache_dir, const char *host, const char *digest, const char *repo)
{
	struct buf path, text;
	int known = 0;

	if (!cache_dir)
		return;
	buf_init(&path);
	buf_init(&text);
	pthread_mutex_lock(&record_lock);
	if (record_path(&path, cache_dir, host, digest) < 0 || atomic_file_make_parents(path.data) < 0)
		goto out;
	(void)buf_read_file(&text, path.data, MAX_RECORD);
	for (char *p = text.data; *p && !known;) {
		size_t len = strcspn(p, "\n");
		known = len == strlen(repo) && !strncmp(p, repo, len);
		p += len + (p[len] == '\n');
	}
	if (!known && buf_addf(&text, "%s\n", repo) == 0)
		(void)atomic_file_write(path.data, text.data, text.len);
out:
	pthread_mutex_unlock(&record_lock);
	buf_release(&path);
	buf_release(&text);
}
