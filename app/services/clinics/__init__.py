"""Clinics: the directory of accredited facilities, their API clients and scanner devices, and
(branch ``verify``) the clinic flow of docs/reference/api-clinics.md."""
