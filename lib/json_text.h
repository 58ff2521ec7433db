/*
 * JSON text out of a jansson tree, failing whenever a write failed.
 *
 * Use stw_json_dumps, never json_dumps: jansson (2.14 and the releases
 * before it) ignores the result of writing an object's key, so an
 * allocation that fails right there leaves a key without its quotes in
 * output that json_dumps calls complete. A config or manifest hashed and
 * published in that state would be a broken image with a valid digest
 * (found by tests/e2e/99-memory, failing each allocation in turn).
 */
#ifndef STW_LIB_JSON_TEXT_H
#define STW_LIB_JSON_TEXT_H

#include <jansson.h>

/* As json_dumps (free() the result); NULL if anything failed. */
char *stw_json_dumps(const json_t *json, size_t flags);

#endif
