"""Domain services: plain code taking a session, keys and a clock; no request, no ``g``."""
