#!/bin/sh
# One-shot set-up of MinIO, the local stand-in for Cloudflare R2: the private bucket, and the public
# bucket readable anonymously (as an R2 bucket served from a custom domain is). Safe to run again.
set -eu
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing "local/$R2_BUCKET"
mc mb --ignore-existing "local/$R2_PUBLIC_BUCKET"
mc anonymous set download "local/$R2_PUBLIC_BUCKET"
