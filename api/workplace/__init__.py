"""The workplace of the people whose deadlines these are: their queue and acting on a case from
the browser, as the signed-in person, within their read scope (issue #16). The routes are in
``api.workplace.web``; ``panel`` is imported by the dashboard's case page, so this package
imports nothing itself (no import cycle with ``api.dashboard``)."""
