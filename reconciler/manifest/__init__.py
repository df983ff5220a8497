"""The desired state: pydantic models of the YAML manifest, loading and validation.

For: turning ``manifests/`` into one validated ``Manifest`` value, with every problem
collected (file:line and the fix) before any network call. An omitted field means
"not managed", never "empty".

Must not: talk to the server, import the live state, the plan or anything above it,
or print; reading files is its only I/O (through ``reconciler.files``' bounds).
"""
