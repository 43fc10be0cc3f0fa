"""The member's health summary: FHIR R4 intake and output, sections, the encrypted store."""
