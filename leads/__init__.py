"""Leads between marketing and sales: the lead record with its four statuses and their times,
the first-response and qualification SLAs, and what each head asks of the other."""
