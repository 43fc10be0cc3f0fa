"""``python -m tests.fhir_server --port N --store FILE``."""

from tests.fhir_server.server import main

main()
