/*
 * The local record of where stowage has pushed each blob: which
 * repositories of a registry hold it, so a later push into another
 * repository can mount it instead of uploading. One small file per blob:
 * CACHE_DIR/blob-locations/<host>/<hex>, one repository a line. Best
 * effort: a record that cannot be read or written only costs an upload.
 */
#ifndef STW_LIB_BLOB_RECORD_H
#define STW_LIB_BLOB_RECORD_H

/* A repository other than `except` known to hold digest, or NULL. */
char *blob_record_find(const char *cache_dir, const char *host, const char *digest, const char *except);
void blob_record_add(const char *cache_dir, const char *host, const char *digest, const char *repo);

#endif
