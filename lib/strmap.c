#include "strmap.h"
#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_key(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void strmap_init(struct strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void strmap_release(struct strmap *m)
{
	free(m->keys);
	free(m->values);
	strmap_init(m);
}

static size_t slot_of(const struct strmap *m, const char *key)
{
	size_t i = (size_t)hash_key(key) & (m->cap - 1);
	while (m->keys[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int grow(struct strmap *m)
{
	struct strmap bigger;
	bigger.cap = m->cap ? m->cap * 2 : 64;
	bigger.count = 0;
	bigger.keys = calloc(bigger.cap, sizeof(*bigger.keys));
	bigger.values = calloc(bigger.cap, sizeof(*bigger.values));
	if (!bigger.keys || !bigger.values) {
		free(bigger.keys);
		free(bigger.values);
		return stw_error("out of memory");
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i]) {
			size_t s = slot_of(&bigger, m->keys[i]);
			bigger.keys[s] = m->keys[i];
			bigger.values[s] = m->values[i];
			bigger.count++;
		}
	}
	strmap_release(m);
	*m = bigger;
	return 0;
}

int strmap_put(struct strmap *m, const char *key, size_t value)
{
	size_t s;
	if ((m->count + 1) * 2 > m->cap && grow(m) < 0)
		return -1;
	s = slot_of(m, key);
	if (!m->keys[s]) {
		m->keys[s] = key;
		m->count++;
	}
	m->values[s] = value;
	return 0;
}

int strmap_get(const struct strmap *m, const char *key, size_t *value)
{
	size_t s;
	if (!m->cap)
		return 0;
	s = slot_of(m, key);
	if (!m->keys[s])
		return 0;
	*value = m->values[s];
	return 1;
}
