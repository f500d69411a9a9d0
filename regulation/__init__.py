"""The interaction regulation: a document rendered from the company configuration (case types,
steps, owners, targets, calendars, escalation chains, recurring duties, one section per
department), in the company's locale, as Markdown and HTML."""

from regulation.render import LOCALES, escalation_chain, render_regulation, write_regulation

__all__ = ["LOCALES", "escalation_chain", "render_regulation", "write_regulation"]
