"""SLA arithmetic: business calendars and clocks."""
