"""The HTTP edge shared by the API and the pages: problem+json, request hooks, authentication."""
