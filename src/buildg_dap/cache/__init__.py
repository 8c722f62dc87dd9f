"""Remote build caches: references, OCI registry client, cache manifests, importer."""
