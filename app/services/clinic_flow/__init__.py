"""The clinic flow (docs/reference/api-clinics.md): scan intake, the online card check, presence
tokens, pull grants and the clinic desk that decides what a clinic may pull."""
