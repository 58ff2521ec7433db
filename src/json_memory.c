/*
 * jansson's memory is zeroed when freed: credentials files, helper answers
 * and token responses are parsed with jansson, whose own copies of the
 * strings (the secrets among them) would otherwise stay in freed heap
 * memory. The library zeroes its own copies; this is the program's choice
 * for jansson's (a process-wide setting, so the library leaves it to the
 * program).
 */
#include "cli.h"

#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static void *json_memory_alloc(size_t size)
{
	return malloc(size);
}

static void json_memory_free(void *p)
{
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

void cli_zero_json_memory(void)
{
	json_set_alloc_funcs(json_memory_alloc, json_memory_free);
}
