"""Reading logs: paths, gzip, blocks, workers and the raw-line pre-filter. No log format
lives here: a format is driven through the interface `formats.base` defines."""
