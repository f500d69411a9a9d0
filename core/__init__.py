"""What every layer shares and nothing else: the errors a user can act on, the one time seam,
YAML reading with clear errors. It imports no other slaflow package."""
