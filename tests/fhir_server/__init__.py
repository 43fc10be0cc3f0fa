"""A small stateful FHIR R4 server for the tests (``python -m tests.fhir_server``): it takes
transaction Bundles (conditional creates honoured), answers the searches the service's client
uses, keeps its resources in a JSON file (so it can be stopped and started again mid-test with
what it stored), and can be told to fail or stall its next answers. ``FhirServerProcess`` runs
it as a subprocess on a free port."""
