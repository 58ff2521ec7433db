/* Manifests derived from an image: the OCI manifest (the bytes whose
 * digest names the image), docker-archive's manifest.json, and the
 * repository:tag references they carry. */
#ifndef STW_LIB_MANIFEST_H
#define STW_LIB_MANIFEST_H

#include "stowage/image.h"

#define OCI_MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX_TYPE "application/vnd.oci.image.index.v1+json"
#define OCI_CONFIG_TYPE "application/vnd.oci.image.config.v1+json"
#define DOCKER_MANIFEST_TYPE "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_LIST_TYPE "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_CONFIG_TYPE "application/vnd.docker.container.image.v1+json"

/* The image's manifest with OCI (docker = 0) or Docker schema 2 media
 * types. Schema 2 has no zstd layer type: such an image is refused. */
int stw_image_manifest_as(char **out, const struct stw_image *img, int docker);

/* docker-archive's manifest.json for img, tagged repo_tag (may be NULL). */
int docker_archive_manifest(char **out, const struct stw_image *img, const char *repo_tag);

/* Splits "NAME:TAG" (NAME may hold a registry port); *tag NULL if absent.
 * On failure both are NULL. */
int reference_split(char **name, char **tag, const char *ref);

#endif
