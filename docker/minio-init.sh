#!/bin/sh
# Creates the private and public buckets in MinIO (the R2 stand-in) and opens the public one for reads.
set -eu
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing local/avatarsite-private
mc mb --ignore-existing local/avatarsite-public
mc anonymous set download local/avatarsite-public
