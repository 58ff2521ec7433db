/* Writing into an OCI image layout directory. */
#ifndef STW_LIB_OCI_LAYOUT_H
#define STW_LIB_OCI_LAYOUT_H

#include "stowage/copy.h"

int oci_layout_write(const struct stw_image *img, const char *dir, const char *tag,
		     const struct stw_copy_options *opts, struct stw_copy_stats *stats);

/* The index.json entry text for a manifest (used by oci-archive too). */
int oci_index_json(char **out, const char *existing, const char *manifest_digest, size_t manifest_size,
		   const char *tag);

#endif
