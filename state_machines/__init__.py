"""Case types as state machines: pure definitions (no I/O) and the cached `transitions` machine."""
