/* The OCI image config: built from user settings and layer diff_ids,
 * serialised canonically (compact, keys sorted) so its digest is stable. */
#ifndef STW_LIB_OCI_CONFIG_H
#define STW_LIB_OCI_CONFIG_H

#include "stowage/build.h"

#define STW_DEFAULT_CREATED "1970-01-01T00:00:01Z"

/* Builds the canonical config JSON for img's layers into img->config_json
 * and img->config_digest. */
int oci_config_build(struct stw_image *img, const struct stw_image_config *cfg);

/* Canonical bytes of a config given as JSON text (re-serialised). */
int oci_config_canonical(char **out, const char *json_text);

#endif
