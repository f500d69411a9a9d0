"""SLA reports: SQL aggregation over clocks, breaches and cases (`reports.scope` lists the query modules), the assembled
report (`reports.report`), its outputs (`reports.render`) and the ``slaflow report`` command
(`slaflow.commands.reports`).

Nothing is imported here on purpose: the demo imports the report queries and must not pull in the
chart library the HTML output needs.
"""
