/* A registry session from the public options (credentials, --cert-dir). */
#ifndef STW_LIB_REGISTRY_CONNECT_H
#define STW_LIB_REGISTRY_CONNECT_H

#include "registry.h"
#include "stowage/registry.h"

int registry_connect(struct registry **out, const char *host, const struct stw_registry_options *o);

#endif
