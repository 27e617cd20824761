"""Test-data support for differential EXI tests against EXIficient (the jar inside `iso15118`)."""
