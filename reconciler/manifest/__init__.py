"""The desired state: pydantic models of the YAML manifest, loading and validation."""
