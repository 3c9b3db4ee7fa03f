"""Test doubles for the Airtable migration (fake Airtable server, v1 base generator, ...)."""
