"""slaflow: SLA workflow engine for requests between the departments of one company."""

__version__ = "0.1.0"
