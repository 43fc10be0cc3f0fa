"""Exam rounds at industrial parks (issue 26): planning and the members' answers
(``rounds``), check-in by card (``checkin``), the clinic's results into the member's record
(``results``, ``fhir``) and their delivery to the national health record (``delivery``)."""
