"""Tables and figures of the results (CSV, Markdown, PNG), read from the workflow's JSON files."""
