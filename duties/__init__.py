"""Recurring information duties: a case of the built-in ``duty`` type per occurrence, opened on
schedule, with its deadline in the owner's business time, and how fresh each duty's figures are."""
