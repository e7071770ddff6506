"""The embedded cluster's Kubernetes API server."""
