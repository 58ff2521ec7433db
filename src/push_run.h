/* Pushing an image JSON: shared by `stowage push` and `stowage copy
 * IMAGE docker://...`. */
#ifndef STW_PUSH_RUN_H
#define STW_PUSH_RUN_H

#include "registry_args.h"

/* Loads image_path, pushes it to ref (HOST/REPO[:TAG]) and reports.
 * Returns the exit code. */
int push_run(const char *image_path, const char *ref, struct registry_args *args);

#endif
