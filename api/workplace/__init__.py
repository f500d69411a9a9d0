"""The workplace of the people whose deadlines these are: their queue and acting on a case from
the browser, as the signed-in person, within their read scope (issue #16)."""

from api.workplace.queue import router

__all__ = ["router"]
