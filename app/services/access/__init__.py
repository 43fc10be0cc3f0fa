"""Who may do what: staff accounts and passwords, access tokens, and the province/union scope check."""
