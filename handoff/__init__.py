"""Hand-off tickets: the queue staff pick up from, with priority, hours and notifications."""
