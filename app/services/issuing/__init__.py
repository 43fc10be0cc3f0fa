"""Card issuing: the card desk, card status and status lists, signing keys, publication (JWKS, trust bundle), batches, card files and the public card page."""
