/*
 * A closure graph: store paths (or any absolute directories), their
 * references and NAR sizes. Read from exportReferencesGraph output (the
 * JSON array of {path, references, narSize} objects, or the classic text
 * form), or from `nix path-info --json -r` (the array of Nix <= 2.18 or
 * the object keyed by path of later Nix). A struct stw_graph owns its
 * paths; stw_graph_free releases it.
 */
#ifndef STOWAGE_GRAPH_H
#define STOWAGE_GRAPH_H

#include <stddef.h>
#include <stdint.h>

struct stw_graph;

int stw_graph_new(struct stw_graph **out);
/* Parses any supported shape; origin names the input in messages. Fails on
 * malformed input, dangling references, relative or escaping paths and
 * cycles (self-references are allowed and dropped). */
int stw_graph_parse(struct stw_graph **out, const char *data, size_t len, const char *origin);
/* Adds every path and reference of from into into. */
int stw_graph_merge(struct stw_graph *into, const struct stw_graph *from);
/* Adds one path without references (if absent); its index in *index. */
int stw_graph_add(struct stw_graph *g, const char *path, uint64_t nar_size, size_t *index);
/* Records a reference from -> to between two existing paths. */
int stw_graph_add_reference(struct stw_graph *g, size_t from, size_t to);
void stw_graph_free(struct stw_graph *g);

size_t stw_graph_count(const struct stw_graph *g);
const char *stw_graph_path(const struct stw_graph *g, size_t i);
/* 0 when unknown. */
uint64_t stw_graph_nar_size(const struct stw_graph *g, size_t i);
void stw_graph_set_nar_size(struct stw_graph *g, size_t i, uint64_t size);
size_t stw_graph_reference_count(const struct stw_graph *g, size_t i);
size_t stw_graph_reference(const struct stw_graph *g, size_t i, size_t k);
/* 1 and *index set when path is in the graph. */
int stw_graph_find(const struct stw_graph *g, const char *path, size_t *index);
/* Fails naming a path on a cycle. */
int stw_graph_check_acyclic(const struct stw_graph *g);

#endif
