"""Who is who: the people of the org chart acting through accounts, sessions and tokens, and
what each of them may read. Read scope is decided here and only here (``org.scope``)."""
