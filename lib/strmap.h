/* A string -> index hash map (open addressing). Keys are borrowed: the
 * caller keeps them alive as long as the map. */
#ifndef STW_LIB_STRMAP_H
#define STW_LIB_STRMAP_H

#include <stddef.h>

struct strmap {
	const char **keys;
	size_t *values;
	size_t count, cap;
};

void strmap_init(struct strmap *m);
void strmap_release(struct strmap *m);
/* Inserts or overwrites. */
int strmap_put(struct strmap *m, const char *key, size_t value);
/* 1 and *value set when found, 0 otherwise. */
int strmap_get(const struct strmap *m, const char *key, size_t *value);

#endif
