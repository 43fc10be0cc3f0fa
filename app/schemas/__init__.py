"""Marshmallow schemas: the API's contract, named by role."""
