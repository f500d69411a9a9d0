from reports.queries import DepartmentFigures, department_figures  # noqa: F401  (moved; the demo still imports it here)
