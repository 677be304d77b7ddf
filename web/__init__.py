"""Pages, the JSON API, authentication and the browser code."""
