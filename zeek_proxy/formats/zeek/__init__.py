"""One ECS mapping per Zeek log, shared by the TSV and JSON syntaxes."""
