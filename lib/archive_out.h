/* Image archives as one tar stream: docker-archive (`docker load`) and
 * oci-archive (an OCI layout in a tar). Members are written in a fixed
 * order with sizes known from the image JSON; layers are synthesised and
 * verified as they stream. */
#ifndef STW_LIB_ARCHIVE_OUT_H
#define STW_LIB_ARCHIVE_OUT_H

#include "sink.h"
#include "stowage/copy.h"

int docker_archive_write(const struct stw_image *img, const char *repo_tag, struct sink *out,
			 struct stw_copy_stats *stats);
/* Compressed layers come from opts' blob cache when it holds them
 * (opts may be NULL). */
int oci_archive_write(const struct stw_image *img, const char *tag, struct sink *out,
		      const struct stw_copy_options *opts, struct stw_copy_stats *stats);

#endif
