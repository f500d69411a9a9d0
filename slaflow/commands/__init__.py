"""The CLI's commands, one module per group; ``slaflow.cli`` imports each only when it runs."""
