/* Loading an image into a running Docker (or Podman) daemon: the
 * docker-archive goes as the body of the Engine API's POST /images/load
 * over the daemon's unix socket. */
#ifndef STW_LIB_DOCKER_DAEMON_H
#define STW_LIB_DOCKER_DAEMON_H

#include "stowage/copy.h"

/* Streams img, tagged repo_tag ("NAME:TAG"), into the daemon at
 * docker_host ("unix:///path"; NULL: unix:///var/run/docker.sock). The
 * archive is never held in memory or on disk: a thread writes it into a
 * pipe that libcurl sends as a chunked request body. If the content no
 * longer matches the image the transfer is cut short, so the daemon gets
 * no image; a daemon that refuses the archive fails with its own words. */
int docker_daemon_load(const struct stw_image *img, const char *docker_host, const char *repo_tag,
		       struct stw_copy_stats *stats);

#endif
